import { createHash } from 'node:crypto';
import { seededRng } from '@pollen/fl-core';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite.ts';
import { NodeContributor, removeDir, waitFor } from './harness.ts';
import { launchCoordinator, tinyTaskDir } from './process.ts';

export interface KillScenario {
  /** Rounds in flight at once. */
  readonly maxInFlight: number;
  /** Contributors connected to each life of the coordinator. */
  readonly clients: number;
  /** How many times the coordinator is SIGKILLed. */
  readonly kills: number;
}

/**
 * Retention the killed coordinators run with: small, so that commits prune often and kills
 * land inside pruning commits too (docs/operating.md, "Retention").
 */
const RETENTION = { POLLEN_KEEP_VERSIONS: '3', POLLEN_KEEP_EVERY: '5' };

/**
 * A coordinator process SIGKILLed at random points of its rounds, `kills` times, then run
 * once more cleanly: its history must have no gap and no duplicate, every version whose
 * weights are kept must match its checksum (the last 3 and every 5th always are), and
 * training must carry on. One scenario per test file, so that the system layer runs them
 * side by side.
 */
export function describeKills({ maxInFlight, clients: n, kills }: KillScenario): void {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) removeDir(dir);
  });
  describe(`a coordinator killed at random points, ${kills} times, maxInFlight ${maxInFlight}`, () => {
    it('keeps a history with no gap and no duplicate, every version matching its checksum, and trains on', async () => {
      const { dataDir, taskFile } = tinyTaskDir('pollen-fault-', {
        cohortSize: 3,
        minReports: 2,
        minClients: 3,
        overSelection: 1,
        deadlineMs: 2000,
        maxInFlight,
      });
      dirs.push(dataDir);
      const rng = seededRng(2026);
      for (let kill = 0; kill < kills; kill++) {
        const coordinator = await launchCoordinator(dataDir, taskFile, RETENTION);
        // Answers come after a random delay so kills land in every phase of a round.
        const clients = Array.from({ length: n }, (_, i) => i).map(
          (i) =>
            new NodeContributor(coordinator.url, `client-f${kill}x${i}`, (global) => {
              const delta = new Float32Array(global.length).fill(0.001 * (i + 1));
              return delta;
            }),
        );
        await Promise.all(clients.map((c) => c.hello()));
        await new Promise((r) => setTimeout(r, Math.floor(rng() * 1500)));
        await coordinator.kill();
        for (const c of clients) c.close();
      }

      // One last clean run must make progress past everything committed so far.
      const check = new SqliteStore(dataDir);
      const committedBefore = (await check.getTask('tiny'))!.currentVersion;
      await check.close();
      const last = await launchCoordinator(dataDir, taskFile, RETENTION);
      const clients = Array.from({ length: n }, (_, i) => i).map(
        (i) => new NodeContributor(last.url, `client-end${i}`, (g) => new Float32Array(g.length).fill(0.001)),
      );
      await Promise.all(clients.map((c) => c.hello()));
      const store = new SqliteStore(dataDir);
      await waitFor(async () => (await store.getTask('tiny'))!.currentVersion > committedBefore, 60_000);
      for (const c of clients) c.close();
      await last.kill();

      const listed = await store.listVersions('tiny');
      const versions = listed.map((v) => v.version);
      expect(versions).toEqual(Array.from({ length: versions.length }, (_, i) => i));
      const rounds = await store.listRounds('tiny');
      const roundIds = rounds.map((r) => r.roundId);
      expect(new Set(roundIds).size).toBe(roundIds.length);
      expect(roundIds).toEqual(Array.from({ length: roundIds.length }, (_, i) => i + 1));
      // Versions are assigned at commit: with rounds in flight, a later round may make the earlier version.
      const committed = rounds
        .filter((r) => r.status === 'committed')
        .sort((a, b) => a.newVersion! - b.newVersion!);
      // Each committed round made exactly the next version, once.
      expect(committed.map((r) => r.newVersion)).toEqual(versions.slice(1));
      // Every record keeps its checksum; every version whose weights were kept matches it.
      const current = versions.length - 1;
      // Pruning ran (version 1 is past the last 3, no multiple of 5, in no round by now).
      if (current >= 6) expect(listed[1]!.pruned).toBe(true);
      for (const r of committed) {
        expect(r.checksum, `version ${r.newVersion}`).toMatch(/^[0-9a-f]{64}$/);
        if (listed[r.newVersion!]!.pruned) {
          expect(r.newVersion! <= current - 3 && r.newVersion! % 5 !== 0, `version ${r.newVersion}`).toBe(
            true,
          );
          continue;
        }
        const v = (await store.getVersion('tiny', r.newVersion!))!;
        const digest = createHash('sha256').update(Buffer.from(v.weights.buffer)).digest('hex');
        expect(digest, `version ${r.newVersion}`).toBe(r.checksum);
      }
      // With two in flight, some round was applied onto a version its cohort did not train on.
      if (maxInFlight > 1) expect(committed.some((r) => (r.staleness?.tau ?? 0) >= 1)).toBe(true);
      // Kills landed both between and inside rounds.
      expect(committed.length).toBeGreaterThanOrEqual(3);
      expect(rounds.some((r) => r.status === 'abandoned')).toBe(true);
      // Everything else was abandoned (or left open by the final kill), never applied.
      expect(rounds.filter((r) => r.status !== 'committed').every((r) => r.newVersion === null)).toBe(true);
      await store.close();
    }, 300_000);
  });
}
