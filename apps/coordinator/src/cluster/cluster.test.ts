import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeDense, encodeUpload } from '@pollen/compression';
import { seededRng, toBytes, uploadPlanFor } from '@pollen/fl-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../store/postgres.ts';
import { NodeContributor, removeDir, startTestCoordinator, waitFor } from '../testing/harness.ts';
import { type CoordinatorProcess, launchCoordinator, tinyTaskDir } from '../testing/process.ts';
import { serversMissing, startPostgres, startRedis, type TestServer } from '../testing/servers.ts';

const missing = serversMissing();
let postgres: TestServer | null = null;
let redis: TestServer | null = null;
const dirs: string[] = [];
const processes: CoordinatorProcess[] = [];
const clients: NodeContributor[] = [];

beforeAll(async () => {
  if (missing) return;
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([postgres?.stop(), redis?.stop()]);
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(processes.splice(0).map((p) => p.kill()));
  for (const dir of dirs.splice(0)) removeDir(dir);
});

/** A fresh database on the test server for one cluster, so the tests share nothing. */
async function database(name: string): Promise<string> {
  const pg = (await import('pg')).default;
  const admin = new pg.Client({ connectionString: postgres!.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return postgres!.url.replace(/\/postgres$/, `/${name}`);
}

async function launchNode(db: string, nodeId: string, taskFile: string): Promise<CoordinatorProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), `pollen-${nodeId}-`));
  dirs.push(dataDir);
  const node = await launchCoordinator(dataDir, taskFile, {
    POLLEN_STORE: 'postgres',
    POLLEN_DATABASE_URL: db,
    POLLEN_REDIS_URL: redis!.url,
    POLLEN_NODE_ID: nodeId,
  });
  processes.push(node);
  return node;
}

/** A client whose update is its own constant, sent after `delayMs`. */
function client(url: string, id: string, value: number, delayMs = 0): NodeContributor {
  const c = new NodeContributor(url, id);
  c.socket.on('round:start', (msg) => {
    setTimeout(() => {
      const d = decodeDense(toBytes(msg.weights!)).vector.length;
      const delta = new Float32Array(d).fill(value);
      // A compressing round gets the sparse frame its plan asks for, as the SDK would send.
      const frame = msg.compression
        ? encodeUpload(delta, uploadPlanFor(msg, d), {
            residual: null,
            rng: seededRng(1),
            meta: { round: msg.roundId },
          }).frame
        : delta;
      c.send(msg, frame).catch(() => {});
    }, delayMs);
  });
  clients.push(c);
  return c;
}

const ROUNDS = { cohortSize: 6, minClients: 6, minReports: 6, overSelection: 1, deadlineMs: 8000 };
/**
 * Sparse frames that keep every coordinate: the nodes that do not hold the lease must decode
 * the round's declared codec too, and the step stays the plain mean.
 */
const SPARSE = { kind: 'topk', fraction: 1, bits: 32, errorFeedback: false };

/** Add fields to the task file `tinyTaskDir` wrote. */
async function extendTask(taskFile: string, fields: Record<string, unknown>): Promise<void> {
  const { writeFileSync, readFileSync } = await import('node:fs');
  writeFileSync(taskFile, JSON.stringify({ ...JSON.parse(readFileSync(taskFile, 'utf8')), ...fields }));
}

describe.skipIf(missing !== null)('three coordinators on Redis and PostgreSQL', () => {
  it('commits rounds of sparse uploads whose cohorts span all nodes, with the aggregate one coordinator computes', async () => {
    const { dataDir, taskFile } = tinyTaskDir('pollen-cluster-', { ...ROUNDS, maxRounds: 2 });
    dirs.push(dataDir);
    await extendTask(taskFile, { compression: SPARSE });
    const db = await database('cluster_rounds');
    const nodes = await Promise.all(['node-a', 'node-b', 'node-c'].map((id) => launchNode(db, id, taskFile)));
    const store = await PostgresStore.connect(db, { max: 2 });
    try {
      const task = (await store.getTask('tiny'))!;
      const dimension = task.weightSpec.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
      const values = [0.01, 0.02, 0.03, 0.04, 0.05, 0.06];
      // Two clients on each node.
      const spread = values.map((v, i) => client(nodes[i % 3]!.url, `client-c${i}`, v));
      for (const c of spread) expect((await c.hello()).ok).toBe(true);
      await waitFor(async () => (await store.getTask('tiny'))!.currentVersion >= 2, 60_000);
      const rounds = (await store.listRounds('tiny')).filter((r) => r.status === 'committed');
      expect(rounds.map((r) => r.newVersion)).toEqual([1, 2]);
      for (const r of rounds) expect(r).toMatchObject({ selected: 6, reported: 6 });
      // Every client, on every node, was in every round.
      for (const c of spread) expect(c.rounds.map((m) => m.roundId)).toEqual(rounds.map((r) => r.roundId));

      // The same six updates through one embedded coordinator give the same step.
      const single = await startTestCoordinator({ rounds: { ...ROUNDS, maxRounds: 1 }, compression: SPARSE });
      dirs.push(single.dataDir);
      try {
        for (const [i, v] of values.entries()) {
          const c = client(single.url, `client-s${i}`, v);
          expect((await c.hello()).ok).toBe(true);
        }
        await waitFor(async () => (await single.store.getTask('tiny'))!.currentVersion >= 1, 30_000);
        const step = async (s: { getVersion: PostgresStore['getVersion'] }): Promise<Float32Array> => {
          const [v0, v1] = [
            (await s.getVersion('tiny', 0))!.weights,
            (await s.getVersion('tiny', 1))!.weights,
          ];
          return v1.map((x, i) => x - v0[i]!);
        };
        const [clustered, alone] = [await step(store), await step(single.store)];
        expect(clustered.length).toBe(alone.length);
        for (const i of [0, 1, dimension - 1]) {
          expect(clustered[i]).toBeCloseTo(0.035, 5);
          expect(clustered[i]).toBeCloseTo(alone[i]!, 6);
        }
      } finally {
        await single.close();
      }
    } finally {
      await store.close();
    }
  }, 120_000);

  it('runs secure rounds across the nodes (stages relayed to the lease holder) with the single-node result', async () => {
    const secure = { range: 1, stageMs: 15_000 };
    const { dataDir, taskFile } = tinyTaskDir('pollen-cluster-secure-', { ...ROUNDS, maxRounds: 1 });
    dirs.push(dataDir);
    await extendTask(taskFile, { secureAggregation: secure });
    const db = await database('cluster_secure');
    const nodes = await Promise.all(['node-a', 'node-b', 'node-c'].map((id) => launchNode(db, id, taskFile)));
    const store = await PostgresStore.connect(db, { max: 2 });
    const single = await startTestCoordinator({
      rounds: { ...ROUNDS, maxRounds: 1 },
      secureAggregation: secure,
    });
    dirs.push(single.dataDir);
    try {
      const task = (await store.getTask('tiny'))!;
      const d = task.weightSpec.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
      // Distinct per client and coordinate, inside the fixed-point range.
      const deltas = Array.from({ length: 6 }, (_, i) =>
        Float32Array.from({ length: d }, (_, j) => 0.05 * Math.sin(1 + i * 7.3 + j * 0.37)),
      );
      for (const [i, delta] of deltas.entries()) {
        const onCluster = new NodeContributor(nodes[i % 3]!.url, `secure-c${i}`, () => delta);
        const alone = new NodeContributor(single.url, `secure-s${i}`, () => delta);
        clients.push(onCluster, alone);
        expect((await onCluster.hello()).ok).toBe(true);
        expect((await alone.hello()).ok).toBe(true);
      }
      await waitFor(async () => (await store.getTask('tiny'))!.currentVersion >= 1, 60_000);
      await waitFor(async () => (await single.store.getTask('tiny'))!.currentVersion >= 1, 30_000);
      const [round] = await store.listRounds('tiny');
      expect(round).toMatchObject({ status: 'committed', selected: 6, reported: 6 });
      const step = async (s: { getVersion: PostgresStore['getVersion'] }): Promise<Float32Array> => {
        const [v0, v1] = [(await s.getVersion('tiny', 0))!.weights, (await s.getVersion('tiny', 1))!.weights];
        return v1.map((x, i) => x - v0[i]!);
      };
      const [clustered, alone] = [await step(store), await step(single.store)];
      let worst = 0;
      for (let j = 0; j < d; j++) {
        const mean = deltas.reduce((sum, v) => sum + v[j]!, 0) / deltas.length;
        worst = Math.max(worst, Math.abs(clustered[j]! - alone[j]!), Math.abs(clustered[j]! - mean));
      }
      // Fixed point at range 1: rounding of at most 2^-24 per client, float32 weights ~1e-7.
      expect(worst).toBeLessThan(1e-6);
    } finally {
      await single.close();
      await store.close();
    }
  }, 120_000);
});
