import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeDense } from '@pollen/compression';
import { toBytes } from '@pollen/fl-core';
import pg from 'pg';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../store/postgres.ts';
import { NodeContributor, removeDir, waitFor } from '../testing/harness.ts';
import { type CoordinatorProcess, launchCoordinator, tinyTaskDir } from '../testing/process.ts';
import { serversMissing, startPostgres, startRedis, type TestServer } from '../testing/servers.ts';

const missing = serversMissing();
let postgres: TestServer | null = null;
let redis: TestServer | null = null;

beforeAll(async () => {
  if (missing) return;
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([postgres?.stop(), redis?.stop()]);
});

const NODES = ['node-a', 'node-b', 'node-c'];
const CLIENTS_PER_NODE = 2;

/**
 * Where each kill lands, relative to the round the holder drives: as it opens (no report yet),
 * while reports arrive, once every report is in (partials handed in, commit under way), right
 * after a commit, and between rounds.
 */
const STAGES = [
  { name: 'round just opened', after: 'open', delayMs: 0 },
  { name: 'reports arriving', after: 'open', delayMs: 350 },
  { name: 'all reported, committing', after: 'open', delayMs: 700 },
  { name: 'just committed', after: 'commit', delayMs: 0 },
  { name: 'between rounds', after: 'commit', delayMs: 150 },
] as const;

describe.skipIf(missing !== null)('the round lease holder killed five times, at different stages', () => {
  it('hands the lease on; the history has no gap and no duplicate, and every version matches its checksum', async () => {
    const { dataDir, taskFile } = tinyTaskDir('pollen-failover-', {
      cohortSize: 6,
      minClients: 4,
      minReports: 3,
      overSelection: 1,
      deadlineMs: 4000,
    });
    const dirs = [dataDir];
    const admin = new pg.Client({ connectionString: postgres!.url });
    await admin.connect();
    await admin.query('CREATE DATABASE failover');
    await admin.end();
    const db = postgres!.url.replace(/\/postgres$/, '/failover');
    const r = createClient({ url: redis!.url });
    await r.connect();
    const nodes = new Map<string, CoordinatorProcess>();
    const clients = new Map<string, NodeContributor[]>();

    const launch = async (nodeId: string): Promise<void> => {
      const dir = mkdtempSync(join(tmpdir(), `pollen-${nodeId}-`));
      dirs.push(dir);
      const node = await launchCoordinator(dir, taskFile, {
        POLLEN_STORE: 'postgres',
        POLLEN_DATABASE_URL: db,
        POLLEN_REDIS_URL: redis!.url,
        POLLEN_NODE_ID: nodeId,
        // Every version keeps its weights so that each can be checked against its checksum.
        POLLEN_KEEP_VERSIONS: '1000000',
      });
      nodes.set(nodeId, node);
      // Its clients (again, after a kill): answers come 100..600 ms after the round starts.
      const mine = Array.from({ length: CLIENTS_PER_NODE }, (_, i) => {
        const index = NODES.indexOf(nodeId) * CLIENTS_PER_NODE + i;
        const c = new NodeContributor(node.url, `client-${nodeId}-${i}`);
        c.socket.on('round:start', (msg) => {
          setTimeout(
            () => {
              const d = decodeDense(toBytes(msg.weights!)).vector.length;
              c.send(msg, new Float32Array(d).fill(0.001 * (index + 1))).catch(() => {});
            },
            100 * (index + 1),
          );
        });
        return c;
      });
      for (const c of mine) expect((await c.hello()).ok).toBe(true);
      clients.set(nodeId, mine);
    };
    const holder = async (): Promise<{ node: string; token: number } | null> => {
      const value = await r.get('pollen:lease:tiny');
      if (!value) return null;
      const at = value.lastIndexOf(':');
      return { node: value.slice(0, at), token: Number(value.slice(at + 1)) };
    };

    const store = await PostgresStore.connect(db, { max: 2 });
    try {
      await Promise.all(NODES.map(launch));
      await waitFor(async () => (await store.getTask('tiny'))!.currentVersion >= 1, 60_000);
      const killed: { stage: string; node: string; token: number }[] = [];
      for (const stage of STAGES) {
        const before = await holder();
        const version = (await store.getTask('tiny'))!.currentVersion;
        const lastRound = (await store.nextRoundId('tiny')) - 1;
        if (stage.after === 'open') {
          await waitFor(
            async () =>
              (await store.listRounds('tiny', { after: lastRound })).find((x) => x.status === 'open'),
            30_000,
          );
        } else {
          await waitFor(async () => (await store.getTask('tiny'))!.currentVersion > version, 30_000);
        }
        await new Promise((resolve) => setTimeout(resolve, stage.delayMs));
        const victim = (await holder()) ?? before!;
        killed.push({ stage: stage.name, ...victim });
        for (const c of clients.get(victim.node) ?? []) c.close();
        await nodes.get(victim.node)!.kill();
        // Another node takes the lease once it expires, with a larger token, while the victim
        // comes back (it cannot take the lease before it expires: its new process holds nothing).
        const [next] = await Promise.all([
          waitFor(async () => {
            const h = await holder();
            return h && h.token > victim.token ? h : null;
          }, 20_000),
          launch(victim.node),
        ]);
        expect(next.token).toBeGreaterThan(victim.token);
      }
      // It trains on after the last kill.
      const after = (await store.getTask('tiny'))!.currentVersion;
      await waitFor(async () => (await store.getTask('tiny'))!.currentVersion >= after + 2, 60_000);
      // The history is read once nothing writes to it any more.
      for (const list of clients.values()) for (const c of list) c.close();
      await Promise.all([...nodes.values()].map((n) => n.kill()));

      const versions = await store.listVersions('tiny');
      expect(versions.map((v) => v.version)).toEqual(versions.map((_, i) => i));
      const rounds = await store.listRounds('tiny');
      const ids = rounds.map((x) => x.roundId);
      expect(ids).toEqual([...new Set(ids)].sort((a, b) => a - b));
      const committed = rounds.filter((x) => x.status === 'committed');
      expect(committed.map((x) => x.newVersion)).toEqual(versions.slice(1).map((v) => v.version));
      for (const v of versions.slice(1)) {
        const round = committed.find((x) => x.newVersion === v.version)!;
        expect(round.roundId).toBe(v.roundId);
        const weights = (await store.getVersion('tiny', v.version))!.weights;
        const digest = createHash('sha256')
          .update(Buffer.from(weights.buffer, weights.byteOffset, weights.byteLength))
          .digest('hex');
        expect(round.checksum).toBe(digest);
      }
      // Only the round in flight now may still be open; kills mid-round left abandoned rounds.
      expect(rounds.slice(0, -1).every((x) => x.status !== 'open')).toBe(true);
      expect(
        rounds.some((x) => x.status === 'abandoned' && x.reason === 'the previous lease holder left'),
      ).toBe(true);
      expect(killed.map((k) => k.token)).toEqual([...killed.map((k) => k.token)].sort((a, b) => a - b));
    } finally {
      for (const list of clients.values()) for (const c of list) c.close();
      await Promise.all([...nodes.values()].map((n) => n.kill()));
      await store.close();
      await r.quit();
      for (const dir of dirs) removeDir(dir);
    }
  }, 180_000);
});
