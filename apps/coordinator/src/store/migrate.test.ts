import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serversMissing, startPostgres, type TestServer } from '../testing/servers.ts';
import { PostgresStore } from './postgres.ts';
import { MIGRATIONS } from './postgres-schema.ts';
import { SqliteStore } from './sqlite.ts';
import { SQLITE_MIGRATIONS } from './sqlite-schema.ts';
import type { RoundRecord, Store } from './types.ts';

/**
 * The rows a store held before named metrics (accuracy and loss columns and record fields),
 * as the store code of that release wrote them: one task, version 0 (evaluated), round 1
 * committed with two clients' metrics (version 1), round 2 abandoned.
 */
interface Fixture {
  readonly tasks: Record<string, unknown>[];
  readonly model_versions: (Record<string, unknown> & { weights: string })[];
  readonly rounds: Record<string, unknown>[];
}
const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/before-named-metrics.json', import.meta.url), 'utf8'),
) as Fixture;

const rows = (table: keyof Fixture): Record<string, unknown>[] =>
  fixture[table].map((row) =>
    'weights' in row ? { ...row, weights: Buffer.from(row.weights as string, 'base64') } : row,
  );

function insertSql(table: string, row: Record<string, unknown>, placeholder: (i: number) => string): string {
  const columns = Object.keys(row);
  return `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((_, i) => placeholder(i)).join(', ')})`;
}

/** What the upgraded store must say about the old history. */
async function expectHistoryKept(store: Store): Promise<void> {
  expect((await store.getTask('legacy'))!.currentVersion).toBe(1);
  const versions = await store.listVersions('legacy');
  expect(versions.map((v) => [v.version, v.metrics])).toEqual([
    [0, { loss: 2.3, accuracy: 0.1 }],
    [1, { loss: 1.25, accuracy: 0.625 }],
  ]);
  expect(Array.from((await store.getVersion('legacy', 1))!.weights)).toEqual([0.5, -0.25, 1, 2]);
  const [committed, abandoned] = await store.listRounds('legacy');
  expect(committed).toMatchObject({
    status: 'committed',
    newVersion: 1,
    metrics: { loss: 1.25, accuracy: 0.625 },
  });
  expect(committed).not.toHaveProperty('accuracy');
  expect(committed).not.toHaveProperty('loss');
  expect(committed!.checksum).toMatch(/^[0-9a-f]{64}$/);
  expect(committed!.clientMetrics).toEqual([
    { metrics: { loss: 1.5, accuracy: 0.5 }, trainMs: 12, numExamples: 10, backend: 'cpu' },
    { metrics: { loss: 0.75, accuracy: 0.875 }, trainMs: 30, numExamples: 20, backend: 'wasm' },
  ]);
  expect(abandoned).toMatchObject({
    status: 'abandoned',
    reason: 'deadline',
    metrics: null,
    clientMetrics: [],
  });
  expect(abandoned).not.toHaveProperty('loss');
  // The upgraded store goes on: the next round commits with named metrics.
  const next: RoundRecord = {
    ...abandoned!,
    roundId: 3,
    status: 'committed',
    reason: null,
    newVersion: 2,
    metrics: { loss: 0.5, mse: 0.25 },
  };
  await store.openRound({ ...next, status: 'open', newVersion: null, metrics: null });
  await store.commitRound(next, Float32Array.from([1, 1, 1, 1]));
  expect((await store.listVersions('legacy'))[2]!.metrics).toEqual({ loss: 0.5, mse: 0.25 });
  expect((await store.listRounds('legacy'))[2]!.metrics).toEqual({ loss: 0.5, mse: 0.25 });
  // And takes held-out uploads (step 4).
  expect(await store.getHeldOutInfo('legacy')).toBeUndefined();
  expect((await store.putHeldOut('legacy', 1, Uint8Array.from([7]))).count).toBe(1);
}

describe('a SQLite file written before named metrics', () => {
  it('opens after the upgrade, keeps its history as named metrics, and is numbered', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pollen-migrate-'));
    try {
      // The schema of that release (unnumbered: user_version 0), its rows as it wrote them.
      const old = new Database(join(dir, 'pollen.sqlite'));
      old.exec(SQLITE_MIGRATIONS[0]!);
      for (const table of ['tasks', 'model_versions', 'rounds'] as const) {
        for (const row of rows(table))
          old.prepare(insertSql(table, row, () => '?')).run(...Object.values(row));
      }
      expect(old.pragma('user_version', { simple: true })).toBe(0);
      old.close();

      const store = new SqliteStore(dir);
      await expectHistoryKept(store);
      await store.close();
      const reopened = new Database(join(dir, 'pollen.sqlite'));
      expect(reopened.pragma('user_version', { simple: true })).toBe(SQLITE_MIGRATIONS.length);
      // A file from a newer release is refused rather than misread.
      reopened.pragma(`user_version = ${SQLITE_MIGRATIONS.length + 1}`);
      reopened.close();
      expect(() => new SqliteStore(dir)).toThrow(/newer than this coordinator/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const missing = serversMissing();
describe.skipIf(missing !== null)('a PostgreSQL database written before named metrics', () => {
  let server: TestServer | null = null;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('migrates on connect and keeps its history as named metrics', async () => {
    const admin = new pg.Client({ connectionString: server!.url });
    await admin.connect();
    await admin.query('CREATE DATABASE before_named_metrics');
    await admin.end();
    const url = server!.url.replace(/\/postgres$/, '/before_named_metrics');
    // The schema of that release: migration step 1, recorded as applied, and its rows.
    const old = new pg.Client({ connectionString: url });
    await old.connect();
    await old.query(MIGRATIONS[0]!);
    await old.query(
      'CREATE TABLE pollen_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL); INSERT INTO pollen_migrations VALUES (1, 0)',
    );
    for (const table of ['tasks', 'model_versions', 'rounds'] as const) {
      for (const row of rows(table)) {
        await old.query(
          insertSql(table, row, (i) => `$${i + 1}`),
          Object.values(row),
        );
      }
    }
    await old.end();

    const store = await PostgresStore.connect(url);
    try {
      await expectHistoryKept(store);
    } finally {
      await store.close();
    }
  });
});
