import { type RoundStartMessage, specSize } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { NodeContributor, type TestCoordinator, waitFor } from '../testing/harness.ts';
import { testSession } from '../testing/session.ts';

let coordinator: TestCoordinator | undefined;
const session = testSession();
const { clients } = session;

/** Two rounds of two clients in flight at once; every selected client must report. */
const task = (staleness?: Record<string, unknown>): Record<string, unknown> => ({
  rounds: {
    cohortSize: 2,
    minReports: 2,
    minClients: 2,
    overSelection: 1,
    deadlineMs: 20_000,
    maxRounds: 0,
    maxInFlight: 2,
  },
  ...(staleness ? { strategy: { staleness } } : {}),
});

/** Say hello with two clients and return the round they were both selected for. */
async function pair(ids: [string, string]): Promise<{ round: RoundStartMessage; pair: NodeContributor[] }> {
  const pair = ids.map((id) => {
    const c = new NodeContributor(coordinator!.url, id);
    clients.push(c);
    return c;
  });
  const started = pair.map((c) => c.nextRound());
  for (const c of pair) expect((await c.hello()).ok).toBe(true);
  const [a, b] = await Promise.all(started);
  expect(a!.roundId).toBe(b!.roundId);
  return { round: a!, pair };
}

async function report(pair: NodeContributor[], round: RoundStartMessage, value: number): Promise<void> {
  const d = specSize((await coordinator!.store.getTask('tiny'))!.weightSpec);
  for (const c of pair)
    expect(await c.send(round, new Float32Array(d).fill(value))).toEqual({
      ok: true,
      roundId: round.roundId,
    });
}

describe('overlapping rounds (rounds.maxInFlight = 2)', () => {
  it('commits in the order rounds close, versions assigned at commit, the later one weighted by s(tau)', async () => {
    coordinator = await session.start(task());
    const first = await pair(['client-a1', 'client-a2']);
    const second = await pair(['client-b1', 'client-b2']);
    // Both trained on version 0, both in flight; no client is in both.
    expect(first.round.modelVersion).toBe(0);
    expect(second.round.modelVersion).toBe(0);
    expect(second.round.roundId).toBe(first.round.roundId + 1);
    const runner = coordinator.engine.runner('tiny')!;
    expect(runner.openRoundIds()).toEqual([first.round.roundId, second.round.roundId]);
    // A fifth client waits: two rounds are in flight already.
    const idle = new NodeContributor(coordinator.url, 'client-idle');
    clients.push(idle);
    await idle.hello();
    await new Promise((r) => setTimeout(r, 300));
    expect(idle.rounds).toHaveLength(0);

    const v0 = (await coordinator.store.getVersion('tiny', 0))!.weights;
    // The second round closes first: it makes version 1 with its whole mean (tau = 0).
    await report(second.pair, second.round, 2);
    const r2 = await waitFor(async () =>
      (await coordinator!.store.listRounds('tiny')).find(
        (r) => r.roundId === second.round.roundId && r.status !== 'open',
      ),
    );
    expect(r2).toMatchObject({
      status: 'committed',
      baseVersion: 0,
      newVersion: 1,
      staleness: { tau: 0, weight: 1 },
    });
    // The first round's aggregate, computed against version 0, lands on version 1: tau = 1,
    // weight (1 + 1)^-1/2.
    await report(first.pair, first.round, 1);
    const r1 = await waitFor(async () =>
      (await coordinator!.store.listRounds('tiny')).find(
        (r) => r.roundId === first.round.roundId && r.status !== 'open',
      ),
    );
    expect(r1).toMatchObject({ status: 'committed', baseVersion: 0, newVersion: 2, mode: 'sync' });
    expect(r1.staleness!.tau).toBe(1);
    expect(r1.staleness!.weight).toBeCloseTo(Math.SQRT1_2, 12);
    expect(r1.aggregationMs).toEqual(expect.any(Number));
    expect(Number.isFinite(r1.aggregationMs)).toBe(true);

    const v1 = (await coordinator.store.getVersion('tiny', 1))!.weights;
    const v2 = (await coordinator.store.getVersion('tiny', 2))!.weights;
    for (let i = 0; i < v0.length; i += 7) {
      expect(v1[i]).toBeCloseTo(v0[i]! + 2, 5);
      expect(v2[i]).toBeCloseTo(v1[i]! + Math.SQRT1_2, 5);
    }
    expect((await coordinator.store.listVersions('tiny')).map((v) => v.version)).toEqual([0, 1, 2]);
  });

  it('abandons an aggregate past tau_max instead of applying it', async () => {
    coordinator = await session.start(task({ maxStaleness: 0 }));
    const first = await pair(['client-c1', 'client-c2']);
    const second = await pair(['client-d1', 'client-d2']);
    await report(second.pair, second.round, 2);
    await waitFor(async () => (await coordinator!.store.getTask('tiny'))!.currentVersion === 1);
    await report(first.pair, first.round, 1);
    const r1 = await waitFor(async () =>
      (await coordinator!.store.listRounds('tiny')).find(
        (r) => r.roundId === first.round.roundId && r.status !== 'open',
      ),
    );
    expect(r1.status).toBe('abandoned');
    expect(r1.reason).toMatch(/1 versions stale, past strategy.staleness.maxStaleness = 0/);
    expect((await coordinator.store.getTask('tiny'))!.currentVersion).toBe(1);
  });

  it('counts the rounds in flight against the privacy budget before selecting another', async () => {
    // q = 1, z = 1, delta = 1e-5: epsilon 4.73, 7.08, 9.01 after 1, 2, 3 rounds; a budget of 8
    // allows 2. Three cohorts could be in flight; the third must not start while two are.
    coordinator = await session.start({
      ...task(),
      rounds: { ...(task().rounds as object), maxInFlight: 3 },
      privacy: { mode: 'distributed', noiseMultiplier: 1, clipNorm: 1, delta: 1e-5, epsilonBudget: 8 },
    });
    const first = await pair(['client-e1', 'client-e2']);
    const second = await pair(['client-e3', 'client-e4']);
    expect(coordinator.engine.runner('tiny')!.openRoundIds()).toHaveLength(2);
    const late = ['client-e5', 'client-e6'].map((id) => {
      const c = new NodeContributor(coordinator!.url, id);
      clients.push(c);
      return c;
    });
    for (const c of late) await c.hello();
    await new Promise((r) => setTimeout(r, 500));
    expect(late.every((c) => c.rounds.length === 0)).toBe(true);
    // Waiting on rounds in flight is not running out: they may yet be abandoned.
    expect((await coordinator.store.getTask('tiny'))!.status).toBe('running');
    // Zero updates are within any clip norm; both rounds commit and are charged.
    await report(first.pair, first.round, 0);
    await report(second.pair, second.round, 0);
    await waitFor(
      async () => (await coordinator!.store.getTask('tiny'))!.status === 'budget-exhausted',
      10_000,
    );
    const rounds = await coordinator.store.listRounds('tiny');
    expect(rounds.map((r) => r.status)).toEqual(['committed', 'committed']);
    expect(rounds[1]!.privacy!.epsilon).toBeLessThanOrEqual(8);
  });
});
