import type { TaskSpec } from '@pollen/fl-core';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveTaskInput } from '../task-file.ts';
import {
  type Backend,
  code,
  committed,
  record,
  storeBackends,
  v,
  weightSpec,
} from '../testing/store-backends.ts';
import type { RetentionPlan } from './retention.ts';
import type { Store } from './types.ts';

/**
 * The store contract (contract.test.ts) for what commits do beyond the version: pruning the
 * weights retention drops in the same transaction, and held-out metrics attached after it.
 * Both stores, PostgreSQL in the system layer.
 */
const { sqlite, postgres, missing } = storeBackends();

for (const backend of [sqlite, postgres]) {
  describe.skipIf(backend === postgres && missing !== null)(
    `store contract, retention and evaluation: ${backend.name}`,
    () => {
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
            await store.commitRound(
              committed('tiny', r),
              v(r, r, r, r),
              undefined,
              undefined,
              undefined,
              plan,
            ),
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
    },
  );
}
