import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PollenError, type TaskSpec, TreeLedger, validateStrategyConfig } from '@pollen/fl-core';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveTaskInput } from '../task-file.ts';
import { serversMissing, startPostgres, type TestServer } from '../testing/servers.ts';
import { PostgresStore } from './postgres.ts';
import type { RetentionPlan } from './retention.ts';
import { SqliteStore } from './sqlite.ts';
import type { RoundRecord, Store } from './types.ts';

/**
 * One store implementation under test: `open` returns a fresh, empty store; `reopen` the same
 * one again; `sql` runs statements on its database over a connection of its own (the fault
 * injection of the retention tests).
 */
interface Backend {
  readonly name: string;
  open(): Promise<{
    store: Store;
    reopen: () => Promise<Store>;
    drop: () => Promise<void>;
    sql: (text: string) => Promise<void>;
  }>;
}

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

let server: TestServer | null = null;
let databases = 0;
const missing = serversMissing();
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

beforeAll(async () => {
  if (!missing) server = await startPostgres();
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

const weightSpec = [{ name: 'w', shape: [4] }];
const v = (...xs: number[]): Float32Array => Float32Array.from(xs);

function record(taskId: string, roundId: number, over: Partial<RoundRecord> = {}): RoundRecord {
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

const committed = (taskId: string, roundId: number): RoundRecord =>
  record(taskId, roundId, {
    status: 'committed',
    newVersion: roundId,
    reported: 2,
    endedAt: 2000 + roundId,
    metrics: { loss: 1.5, accuracy: 0.5 },
  });

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return err instanceof PollenError ? err.code : `not a PollenError: ${String(err)}`;
  }
}

for (const backend of [sqlite, postgres]) {
  describe.skipIf(backend === postgres && missing !== null)(`store contract: ${backend.name}`, () => {
    let opened: Awaited<ReturnType<Backend['open']>> | null = null;
    const stores: Store[] = [];
    let spec: TaskSpec;

    async function fresh(): Promise<Store> {
      opened = await backend.open();
      stores.push(opened.store);
      spec ??= await resolveTaskInput({ id: 'tiny', model: { kind: 'mlp', hidden: [8] } });
      await opened.store.createTask(spec, weightSpec, v(0, 0, 0, 0), { loss: 2.3, accuracy: 0.1 });
      return opened.store;
    }

    afterEach(async () => {
      for (const s of stores.splice(0)) await s.close();
      await opened?.drop();
      opened = null;
    });

    it('creates a task once, with version 0, and lists it', async () => {
      const store = await fresh();
      const task = (await store.getTask('tiny'))!;
      expect(task).toMatchObject({ status: 'running', currentVersion: 0, weightSpec });
      expect(task.spec.strategy).toEqual(spec.strategy ?? validateStrategyConfig(undefined));
      expect((await store.listTasks()).map((t) => t.spec.id)).toEqual(['tiny']);
      expect(await code(store.createTask(spec, weightSpec, v(1, 1, 1, 1), null))).toBe('INVALID_TASK');
      expect((await store.getVersion('tiny', 0))!.weights).toEqual(v(0, 0, 0, 0));
      expect(await store.getTask('nope')).toBeUndefined();
      expect(await code(store.setTaskStatus('nope', 'paused'))).toBe('UNKNOWN_TASK');
      expect(await code(store.updateTaskSpec({ ...spec, id: 'nope' }))).toBe('UNKNOWN_TASK');
      await store.setTaskStatus('tiny', 'paused');
      await store.updateTaskSpec({ ...spec, name: 'renamed' });
      expect(await store.getTask('tiny')).toMatchObject({ status: 'paused', spec: { name: 'renamed' } });
    });

    it('commits versions one after another: no gap, no second commit of a round, checksums kept', async () => {
      const store = await fresh();
      expect(await store.nextRoundId('tiny')).toBe(1);
      await store.openRound(record('tiny', 1));
      expect(await store.nextRoundId('tiny')).toBe(2);
      await store.commitRound(committed('tiny', 1), v(1, 2, 3, 4));
      expect(await code(store.commitRound(committed('tiny', 1), v(9, 9, 9, 9)))).toBe('STALE_MODEL');
      await store.openRound(record('tiny', 2));
      // Version 3 on top of 1 would leave a gap.
      expect(await code(store.commitRound({ ...committed('tiny', 2), newVersion: 3 }, v(0, 0, 0, 0)))).toBe(
        'STALE_MODEL',
      );
      expect(await code(store.commitRound(committed('tiny', 3), v(0, 0, 0, 0)))).toBe('STALE_MODEL');
      await store.commitRound(committed('tiny', 2), v(5, 6, 7, 8));
      // A closed round cannot be committed or abandoned again.
      expect(await code(store.abandonRound(record('tiny', 2, { status: 'abandoned' })))).toBe('ROUND_CLOSED');
      expect((await store.listVersions('tiny')).map((x) => [x.version, x.roundId])).toEqual([
        [0, null],
        [1, 1],
        [2, 2],
      ]);
      expect((await store.getVersion('tiny', 2))!.weights).toEqual(v(5, 6, 7, 8));
      const rounds = await store.listRounds('tiny');
      expect(rounds.map((r) => [r.roundId, r.status, r.newVersion])).toEqual([
        [1, 'committed', 1],
        [2, 'committed', 2],
      ]);
      expect(rounds[0]!.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(await store.listRounds('tiny', { after: 1, limit: 5 })).toEqual([rounds[1]]);
      expect((await store.getTask('tiny'))!.currentVersion).toBe(2);
      expect(await code(store.commitRound(committed('nope', 1), v(0, 0, 0, 0)))).not.toBe('ok');
    });

    it('lets exactly one of two concurrent commits of the same version through', async () => {
      const store = await fresh();
      await store.openRound(record('tiny', 1));
      await store.openRound(record('tiny', 2, { baseVersion: 0 }));
      const results = await Promise.all([
        code(store.commitRound(committed('tiny', 1), v(1, 1, 1, 1))),
        code(store.commitRound({ ...committed('tiny', 2), newVersion: 1 }, v(2, 2, 2, 2))),
      ]);
      expect(results.filter((r) => r === 'ok')).toHaveLength(1);
      expect(results.filter((r) => r === 'STALE_MODEL')).toHaveLength(1);
      expect((await store.listVersions('tiny')).map((x) => x.version)).toEqual([0, 1]);
    });

    it('keeps strategy state, the privacy ledger and an exhausted budget with their versions', async () => {
      const store = await fresh();
      expect(await store.getStrategyState('tiny')).toBeUndefined();
      expect(await store.getPrivacy('tiny')).toBeUndefined();
      await store.openRound(record('tiny', 1));
      const config = validateStrategyConfig({ name: 'fedadam' });
      await store.commitRound(
        committed('tiny', 1),
        v(1, 1, 1, 1),
        { config, state: { 'adam.m': v(0.5, 0.25, 0, -1), 'adam.t': 3 } },
        { ledger: null, clipNorm: 0.75 },
      );
      const saved = (await store.getStrategyState('tiny'))!;
      expect(saved.version).toBe(1);
      expect(saved.config).toEqual(config);
      expect(saved.state['adam.m']).toEqual(v(0.5, 0.25, 0, -1));
      expect(saved.state['adam.t']).toBe(3);
      expect(await store.getPrivacy('tiny')).toEqual({
        version: 1,
        ledger: null,
        clipNorm: 0.75,
        exhausted: null,
      });
      await store.exhaustBudget('tiny', 'epsilon 8.1 would pass 8');
      expect((await store.getTask('tiny'))!.status).toBe('budget-exhausted');
      expect(await store.getPrivacy('tiny')).toMatchObject({
        version: 1,
        clipNorm: 0.75,
        exhausted: 'epsilon 8.1 would pass 8',
      });
      expect(await code(store.exhaustBudget('nope', 'x'))).toBe('UNKNOWN_TASK');
    });

    it("keeps a DP-FTRL task's tree (strategy state) and tree ledger with its version", async () => {
      const store = await fresh();
      const ledger = new TreeLedger({ delta: 1e-5, noiseMultiplier: 1, minSeparation: 3, restartEvery: 0 });
      ledger.record(['client-a', 'client-b']);
      await store.openRound(record('tiny', 1));
      const state = {
        'ftrl.steps': 1,
        'ftrl.trees': 1,
        'ftrl.sum': v(1, 2, 3, 4),
        'ftrl.anchor': v(0, 0, 0, 0),
        'ftrl.momentum': v(0.5, 1, 1.5, 2),
        'ftrl.noise.0': v(0.25, -0.25, 0, 1),
      };
      const config = validateStrategyConfig({ name: 'fedavgm' });
      await store.commitRound(
        committed('tiny', 1),
        v(1, 1, 1, 1),
        { config, state },
        {
          ledger: ledger.toJSON(),
          clipNorm: 1,
        },
      );
      expect((await store.getStrategyState('tiny'))!.state).toEqual(state);
      const read = TreeLedger.fromJSON((await store.getPrivacy('tiny'))!.ledger);
      expect(read.toJSON()).toEqual(ledger.toJSON());
      expect(read.eligible('client-a')).toBe(false);
    });

    it("abandons rounds left open, all of them on restart or one task's under a fence, and keeps everything across a reopen", async () => {
      const store = await fresh();
      await store.createTask({ ...spec, id: 'other' }, weightSpec, v(0, 0, 0, 0), null);
      await store.openRound(record('tiny', 1));
      await store.openRound(record('other', 1));
      expect(await store.abandonOpenRounds('node died', { taskId: 'tiny', fence: { token: 1 } })).toBe(1);
      expect((await store.listRounds('tiny'))[0]).toMatchObject({ status: 'abandoned', reason: 'node died' });
      expect((await store.listRounds('other'))[0]!.status).toBe('open');
      await store.close();
      stores.pop();
      const again = await opened!.reopen();
      stores.push(again);
      expect(await again.abandonOpenRounds('coordinator restarted')).toBe(1);
      expect(await again.abandonOpenRounds('coordinator restarted')).toBe(0);
      expect((await again.listRounds('other'))[0]).toMatchObject({
        status: 'abandoned',
        reason: 'coordinator restarted',
      });
      expect(await again.nextRoundId('tiny')).toBe(2);
      expect((await again.listTasks()).map((t) => t.spec.id).sort()).toEqual(['other', 'tiny']);
    });

    it('refuses round writes under a lower fencing token than the task has seen', async () => {
      const store = await fresh();
      await store.openRound(record('tiny', 1), { token: 2 });
      // A deposed holder (token 1) can neither commit nor abandon, and nothing changes.
      expect(
        await code(
          store.commitRound(committed('tiny', 1), v(1, 1, 1, 1), undefined, undefined, { token: 1 }),
        ),
      ).toBe('LEASE_LOST');
      expect(await code(store.abandonRound(record('tiny', 1, { status: 'abandoned' }), { token: 1 }))).toBe(
        'LEASE_LOST',
      );
      expect(await code(store.openRound(record('tiny', 2), { token: 1 }))).toBe('LEASE_LOST');
      expect(await code(store.abandonOpenRounds('x', { taskId: 'tiny', fence: { token: 1 } }))).toBe(
        'LEASE_LOST',
      );
      expect((await store.getTask('tiny'))!.currentVersion).toBe(0);
      // The next holder's token moves the fence on; the old one is then refused too.
      expect(await store.abandonOpenRounds('holder died', { taskId: 'tiny', fence: { token: 3 } })).toBe(1);
      expect(await code(store.openRound(record('tiny', 2), { token: 2 }))).toBe('LEASE_LOST');
      await store.openRound(record('tiny', 2, { baseVersion: 0 }), { token: 3 });
      await store.commitRound(
        { ...committed('tiny', 2), newVersion: 1 },
        v(1, 1, 1, 1),
        undefined,
        undefined,
        {
          token: 3,
        },
      );
      expect((await store.listRounds('tiny')).map((r) => r.status)).toEqual(['abandoned', 'committed']);
    });

    it('assigns demo shards round-robin on first sight, once per client even when asked at once', async () => {
      const store = await fresh();
      const shards = await Promise.all(
        ['a', 'b', 'c', 'd', 'e'].map((id) => store.shardFor(`client-${id}`, 'tiny', 4)),
      );
      expect([...shards].sort()).toEqual([0, 0, 1, 2, 3]);
      expect(await store.shardFor('client-a', 'tiny', 4)).toBe(shards[0]);
      expect(
        await Promise.all([store.shardFor('client-z', 'tiny', 4), store.shardFor('client-z', 'tiny', 4)]),
      ).toEqual([1, 1]);
    });

    it('binds a client id to the first secret hash it is claimed with, once even when claimed at once', async () => {
      const store = await fresh();
      const [a, b] = await Promise.all([
        store.claimClient('client-a', 'h1'),
        store.claimClient('client-a', 'h2'),
      ]);
      expect(a).toBe(b);
      expect(await store.claimClient('client-a', 'h3')).toBe(a);
      expect(await store.claimClient('client-b', 'h2')).toBe('h2');
    });

    /** Open and commit rounds `from`..`to` (round r commits version r, weights all r). */
    async function commitMany(
      store: Store,
      from: number,
      to: number,
      plan?: RetentionPlan,
    ): Promise<number[][]> {
      const pruned: number[][] = [];
      for (let r = from; r <= to; r++) {
        await store.openRound(record('tiny', r));
        pruned.push(
          await store.commitRound(committed('tiny', r), v(r, r, r, r), undefined, undefined, undefined, plan),
        );
      }
      return pruned;
    }

    it('keeps the last N versions, every M-th and the protected ones; every record and checksum stays', async () => {
      const store = await fresh();
      const plan: RetentionPlan = { keepLast: 3, keepEvery: 5, protect: [2] };
      const pruned = await commitMany(store, 1, 12, plan);
      // Committing version 4 may first drop version 1 (4 - 3); 2 is protected, 0, 5 and 10 are checkpoints.
      expect(pruned.flat()).toEqual([1, 3, 4, 6, 7, 8, 9]);
      expect(pruned[3]).toEqual([1]);
      const listed = await store.listVersions('tiny');
      expect(listed.filter((x) => !x.pruned).map((x) => x.version)).toEqual([0, 2, 5, 10, 11, 12]);
      expect(listed).toHaveLength(13);
      expect(listed[3]).toMatchObject({ version: 3, roundId: 3, pruned: true, metrics: { loss: 1.5 } });
      expect((await store.getVersion('tiny', 10))!.weights).toEqual(v(10, 10, 10, 10));
      expect((await store.getVersion('tiny', 0))!.weights).toEqual(v(0, 0, 0, 0));
      expect(await code(store.getVersion('tiny', 3))).toBe('VERSION_PRUNED');
      const rounds = await store.listRounds('tiny');
      expect(rounds.map((r) => r.status)).toEqual(Array(12).fill('committed'));
      for (const r of rounds) expect(r.checksum).toMatch(/^[0-9a-f]{64}$/);
      // No longer protected: the next commit drops it, and nothing twice.
      expect(await commitMany(store, 13, 13, { ...plan, protect: [] })).toEqual([[2]]);
      // The same weights survive a reopen: pruning is durable, and so is what it kept.
      const again = await opened!.reopen();
      stores.push(again);
      expect((await again.listVersions('tiny')).filter((x) => !x.pruned).map((x) => x.version)).toEqual([
        0, 5, 10, 11, 12, 13,
      ]);
    });

    it('prunes in the commit transaction: a crash between pruning and the commit loses nothing and prunes nothing', async () => {
      const store = await fresh();
      await commitMany(store, 1, 2);
      await store.openRound(record('tiny', 3));
      // The fault strikes while version 1's weights are dropped, after version 0's (SQLite prunes
      // in version order), and before the transaction commits: as a crash there would.
      await opened!.sql(
        backend === sqlite
          ? `CREATE TRIGGER crash_mid_prune BEFORE UPDATE OF weights ON model_versions
             WHEN NEW.version = 1 AND length(NEW.weights) = 0
             BEGIN SELECT RAISE(ABORT, 'simulated crash'); END;`
          : `CREATE FUNCTION crash_mid_prune() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               IF NEW.version = 1 AND octet_length(NEW.weights) = 0 THEN RAISE EXCEPTION 'simulated crash'; END IF;
               RETURN NEW;
             END $$;
             CREATE TRIGGER crash_mid_prune BEFORE UPDATE ON model_versions
             FOR EACH ROW EXECUTE FUNCTION crash_mid_prune();`,
      );
      const plan: RetentionPlan = { keepLast: 1, keepEvery: 0, protect: [] };
      expect(
        await code(
          store.commitRound(committed('tiny', 3), v(3, 3, 3, 3), undefined, undefined, undefined, plan),
        ),
      ).not.toBe('ok');
      await opened!.sql(
        backend === sqlite
          ? 'DROP TRIGGER crash_mid_prune;'
          : 'DROP TRIGGER crash_mid_prune ON model_versions; DROP FUNCTION crash_mid_prune();',
      );
      // After the restart: version 3 was never committed, and no version lost its weights.
      const again = await opened!.reopen();
      stores.push(again);
      expect((await again.getTask('tiny'))!.currentVersion).toBe(2);
      expect((await again.listVersions('tiny')).map((x) => [x.version, x.pruned])).toEqual([
        [0, false],
        [1, false],
        [2, false],
      ]);
      expect((await again.getVersion('tiny', 0))!.weights).toEqual(v(0, 0, 0, 0));
      expect((await again.listRounds('tiny')).map((r) => r.status)).toEqual([
        'committed',
        'committed',
        'open',
      ]);
      // The round is abandoned on restart; the next commit prunes what the policy drops, at once.
      expect(await again.abandonOpenRounds('coordinator restarted')).toBe(1);
      await again.openRound(record('tiny', 4, { baseVersion: 2 }));
      expect(
        await again.commitRound(
          { ...committed('tiny', 4), newVersion: 3 },
          v(3, 3, 3, 3),
          undefined,
          undefined,
          undefined,
          plan,
        ),
      ).toEqual([0, 1, 2]);
    });

    it("attaches a version's held-out evaluation to the version and its round record after the commit", async () => {
      const store = await fresh();
      await store.openRound(record('tiny', 1));
      await store.commitRound({ ...committed('tiny', 1), metrics: null }, v(1, 1, 1, 1));
      const before = (await store.listRounds('tiny'))[0]!;
      expect(before.metrics).toBeNull();
      expect(before.evaluationMs).toBeUndefined();
      expect((await store.listVersions('tiny'))[1]!.metrics).toBeNull();
      const updated = await store.attachEvaluation('tiny', 1, { loss: 0.7, accuracy: 0.8 }, 12.5);
      expect(updated).toEqual({ ...before, metrics: { loss: 0.7, accuracy: 0.8 }, evaluationMs: 12.5 });
      expect((await store.listRounds('tiny'))[0]).toEqual(updated);
      expect((await store.getVersion('tiny', 1))!.metrics).toEqual({ loss: 0.7, accuracy: 0.8 });
      // Version 0 has no round record: only the version's metrics change.
      expect(await store.attachEvaluation('tiny', 0, { loss: 2 }, 3)).toBeUndefined();
      expect((await store.getVersion('tiny', 0))!.metrics).toEqual({ loss: 2 });
      expect(await code(store.attachEvaluation('tiny', 7, null, 1))).toBe('NOT_FOUND');
    });
  });
}
