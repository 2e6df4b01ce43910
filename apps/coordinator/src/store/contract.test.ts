import { type TaskSpec, TreeLedger, validateStrategyConfig } from '@pollen/fl-core';
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
import type { EvaluationRecord, Store } from './types.ts';

const { sqlite, postgres, missing } = storeBackends();

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

    it('keeps evaluation rounds: written as they open and close, listed by id, the latest only, open ones abandoned, fenced', async () => {
      const store = await fresh();
      const evaluation = (id: number, fields: Partial<EvaluationRecord> = {}): EvaluationRecord => ({
        taskId: 'tiny',
        evaluationId: id,
        version: id - 1,
        status: 'open',
        selected: 3,
        eligible: 4,
        sampling: { rate: 1, clamped: 'max' },
        minReports: 2,
        reported: 0,
        dropped: 0,
        rejected: 0,
        deadlineHit: false,
        startedAt: 1000,
        endedAt: null,
        bytesDown: 300,
        bytesUp: 0,
        federatedEvaluation: null,
        reason: null,
        ...fields,
      });
      expect(await store.nextEvaluationId('tiny')).toBe(1);
      await store.saveEvaluation(evaluation(1));
      const closed = evaluation(1, {
        status: 'complete',
        reported: 2,
        dropped: 1,
        endedAt: 2000,
        federatedEvaluation: {
          version: 0,
          clients: 2,
          numExamples: 5,
          metrics: { accuracy: 0.5 },
          distribution: {
            accuracy: {
              clients: 2,
              mean: 0.5,
              min: 0.4,
              q1: 0.45,
              median: 0.5,
              q3: 0.55,
              max: 0.6,
              worst10: 0.4,
            },
          },
        },
      });
      await store.saveEvaluation(closed, { token: 2 });
      await store.saveEvaluation(evaluation(2));
      await store.saveEvaluation(evaluation(3));
      expect(await store.listEvaluations('tiny')).toEqual([closed, evaluation(2), evaluation(3)]);
      expect(await store.listEvaluations('tiny', { latest: 2 })).toEqual([evaluation(2), evaluation(3)]);
      expect(await store.nextEvaluationId('tiny')).toBe(4);
      expect(await store.listEvaluations('other')).toEqual([]);
      // A deposed lease holder writes nothing.
      expect(await code(store.saveEvaluation(evaluation(4), { token: 1 }))).toBe('LEASE_LOST');
      expect(await store.abandonOpenEvaluations('coordinator restarted')).toBe(2);
      expect(await store.abandonOpenEvaluations('coordinator restarted')).toBe(0);
      await store.close();
      stores.pop();
      const again = await opened!.reopen();
      stores.push(again);
      const after = await again.listEvaluations('tiny');
      expect(after.map((r) => r.status)).toEqual(['complete', 'abandoned', 'abandoned']);
      expect(after[1]).toMatchObject({ reason: 'coordinator restarted', endedAt: expect.any(Number) });
      expect(after[0]).toEqual(closed);
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

    it('keeps one held-out set per task: replaced on upload, deleted, kept across a reopen', async () => {
      const store = await fresh();
      expect(await store.getHeldOutInfo('tiny')).toBeUndefined();
      expect(await store.getHeldOut('tiny')).toBeUndefined();
      expect(await store.deleteHeldOut('tiny')).toBe(false);
      const first = await store.putHeldOut('tiny', 2, Uint8Array.from([1, 2, 3, 4]));
      expect(first).toMatchObject({ taskId: 'tiny', count: 2, bytes: 4 });
      expect(first.digest).toMatch(/^[0-9a-f]{64}$/);
      const second = await store.putHeldOut('tiny', 3, Uint8Array.from([5, 6, 7, 8, 9, 10]));
      expect(second.digest).not.toBe(first.digest);
      expect(await store.getHeldOutInfo('tiny')).toEqual(second);
      const reopened = await opened!.reopen();
      stores.push(reopened);
      const stored = (await reopened.getHeldOut('tiny'))!;
      expect(stored).toMatchObject(second);
      expect(Array.from(stored.data)).toEqual([5, 6, 7, 8, 9, 10]);
      expect(await code(store.putHeldOut('nope', 1, Uint8Array.from([1])))).toBe('UNKNOWN_TASK');
      expect(await store.deleteHeldOut('tiny')).toBe(true);
      expect(await store.getHeldOutInfo('tiny')).toBeUndefined();
      expect(await reopened.getHeldOut('tiny')).toBeUndefined();
    });
  });
}
