import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PollenError } from '@pollen/fl-core';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { PostgresStore } from '../store/postgres.ts';
import { SqliteStore } from '../store/sqlite.ts';
import type { RoundRecord, Store } from '../store/types.ts';
import { serversMissing, startPostgres, type TestServer } from './servers.ts';

/**
 * One store implementation under test: `open` returns a fresh, empty store; `reopen` the same
 * one again; `sql` runs statements on its database over a connection of its own (the fault
 * injection of the retention tests).
 */
export interface Backend {
  readonly name: string;
  open(): Promise<{
    store: Store;
    reopen: () => Promise<Store>;
    drop: () => Promise<void>;
    sql: (text: string) => Promise<void>;
  }>;
}

/**
 * Both stores for a contract test file: SQLite in a temporary directory, and PostgreSQL on a
 * server this call starts before the file's tests and stops after them (`missing` says why
 * it cannot run here, or null). Call it once, at a test file's top level.
 */
export function storeBackends(): { sqlite: Backend; postgres: Backend; missing: string | null } {
  let server: TestServer | null = null;
  let databases = 0;
  const missing = serversMissing();
  beforeAll(async () => {
    if (!missing) server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });
  const sqlite: Backend = {
    name: 'sqlite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'pollen-contract-'));
      return {
        store: new SqliteStore(dir),
        reopen: async () => new SqliteStore(dir),
        drop: async () => rmSync(dir, { recursive: true, force: true }),
        sql: async (text) => {
          const db = new Database(join(dir, 'pollen.sqlite'));
          db.exec(text);
          db.close();
        },
      };
    },
  };
  const postgres: Backend = {
    name: 'postgres',
    async open() {
      // A database of its own per test: the suite's tests never see each other's rows.
      const name = `contract_${++databases}`;
      const admin = new pg.Client({ connectionString: server!.url });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      const url = server!.url.replace(/\/postgres$/, `/${name}`);
      return {
        store: await PostgresStore.connect(url),
        reopen: () => PostgresStore.connect(url),
        drop: async () => {},
        sql: async (text) => {
          const client = new pg.Client({ connectionString: url });
          await client.connect();
          await client.query(text);
          await client.end();
        },
      };
    },
  };
  return { sqlite, postgres, missing };
}

export const weightSpec = [{ name: 'w', shape: [4] }];
export const v = (...xs: number[]): Float32Array => Float32Array.from(xs);

/** An open round record of `taskId`, built on version roundId - 1. */
export function record(taskId: string, roundId: number, over: Partial<RoundRecord> = {}): RoundRecord {
  return {
    taskId,
    roundId,
    status: 'open',
    baseVersion: roundId - 1,
    newVersion: null,
    selected: 3,
    reported: 0,
    dropped: 0,
    rejected: 0,
    deadlineHit: false,
    startedAt: 1000 + roundId,
    endedAt: null,
    metrics: null,
    bytesUp: 0,
    bytesDown: 0,
    backends: {},
    clientMetrics: [],
    reason: null,
    ...over,
  };
}

/** Round `roundId` committed as version `roundId`. */
export const committed = (taskId: string, roundId: number): RoundRecord =>
  record(taskId, roundId, {
    status: 'committed',
    newVersion: roundId,
    reported: 2,
    endedAt: 2000 + roundId,
    metrics: { loss: 1.5, accuracy: 0.5 },
  });

/** 'ok', or the PollenError code a promise was refused with. */
export async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return err instanceof PollenError ? err.code : `not a PollenError: ${String(err)}`;
  }
}
