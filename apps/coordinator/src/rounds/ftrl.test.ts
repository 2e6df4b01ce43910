import { clipToNorm, specSize, treeEpsilon, treeSegments } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { NodeContributor, OPERATOR_HEADERS, type TestCoordinator, waitFor } from '../testing/harness.ts';
import { testSession } from '../testing/session.ts';

const session = testSession();
const { clients } = session;

// One client per round, each at most once in any 3 consecutive rounds, a tree of 2 rounds.
const rounds = {
  cohortSize: 1,
  minReports: 1,
  minClients: 1,
  overSelection: 1,
  deadlineMs: 20_000,
  maxRounds: 0,
};
const ftrl = {
  mode: 'ftrl',
  clipNorm: 1,
  noiseMultiplier: 1,
  delta: 1e-5,
  minSeparation: 3,
  restartEvery: 2,
};
const epsilonAfter = (t: number): number =>
  treeEpsilon({ noiseMultiplier: 1, minSeparation: 3, segments: treeSegments(t, 2), delta: 1e-5 }).epsilon;

/** A contributor that clips a fixed delta to the round's C and adds the noise it is told (none here). */
function clipping(coordinator: TestCoordinator, id: string): NodeContributor {
  const c = new NodeContributor(coordinator.url, id, (global, msg) => {
    expect(msg.privacy).toMatchObject({ mode: 'ftrl', clipNorm: 1, noiseStd: 0, clipBit: false });
    return clipToNorm(new Float32Array(global.length).fill(0.05), msg.privacy!.clipNorm).clipped;
  });
  clients.push(c);
  return c;
}

describe('DP-FTRL rounds', () => {
  it('keeps every client 3 rounds apart, and the tree, the ledger and the budget stop across a restart', async () => {
    // The budget lets exactly `allowed` rounds commit: the first t from 4 whose next round costs more.
    let allowed = 4;
    while (epsilonAfter(allowed + 1) === epsilonAfter(allowed)) allowed++;
    const task = { rounds, privacy: { ...ftrl, epsilonBudget: epsilonAfter(allowed) } };
    let coordinator = await session.start(task);
    const dataDir = coordinator.dataDir;
    const ids = ['client-ftrl-a', 'client-ftrl-b', 'client-ftrl-c'];
    const who = new Map<number, string>();
    const note = (c: NodeContributor): void => {
      for (const r of c.rounds) who.set(r.roundId, c.clientId);
    };
    // Two clients only: after one round each, neither may take part in the third.
    const [a, b] = ids.slice(0, 2).map((id) => clipping(coordinator, id));
    await a!.hello();
    await b!.hello();
    const committed = async () =>
      (await coordinator.store.listRounds('tiny')).filter((r) => r.status === 'committed');
    await waitFor(async () => (await committed()).length === 2, 20_000);
    const c = clipping(coordinator, ids[2]!);
    await c.hello();
    // The third round can only be c's; then the first of a and b is free again. The
    // coordinator goes down in the second tree, with or without a fourth round in flight.
    await waitFor(async () => (await committed()).length >= 3, 20_000);
    for (const x of [a!, b!, c]) note(x);
    for (const x of clients.splice(0)) x.close();
    await coordinator.close();

    coordinator = await session.start(task, dataDir);
    const before = (await coordinator.store.listRounds('tiny')).filter(
      (r) => r.status === 'committed',
    ).length;
    const state = await coordinator.store.getStrategyState('tiny');
    expect(state!.state['ftrl.trees']).toBe(Math.ceil(before / 2));
    const resumed = ids.map((id) => clipping(coordinator, id));
    for (const x of resumed) await x.hello();
    await waitFor(
      async () => (await coordinator.store.getTask('tiny'))!.status === 'budget-exhausted',
      20_000,
    );
    for (const x of resumed) note(x);

    const records = await committed();
    expect(records).toHaveLength(allowed);
    const order = records.map((r) => who.get(r.roundId));
    expect(order[2]).toBe('client-ftrl-c');
    // No client twice within 3 consecutive committed rounds, across the restart too.
    for (let i = 0; i + 1 < order.length; i++) {
      expect(order[i + 1]).not.toBe(order[i]);
      if (i + 2 < order.length) expect(order[i + 2]).not.toBe(order[i]);
    }
    for (const [i, r] of records.entries()) {
      expect(r.privacy).toMatchObject({ mode: 'ftrl', noiseStd: 0, noiseMultiplier: 1, samplingRate: 1 });
      expect(r.privacy!.epsilon).toBeCloseTo(epsilonAfter(i + 1), 9);
    }
    const privacy = (await (
      await fetch(`${coordinator.url}/api/tasks/tiny/privacy`, { headers: OPERATOR_HEADERS })
    ).json()) as Record<string, unknown>;
    expect(privacy).toMatchObject({ mode: 'ftrl', rounds: allowed, status: 'budget-exhausted' });
    expect(privacy.epsilon).toBeCloseTo(epsilonAfter(allowed), 9);
    expect(privacy.exhausted).toMatch(/next DP-FTRL round/);
    // The FTRL state committed with the last version: its tree, anchor and momentum.
    const last = (await coordinator.store.getStrategyState('tiny'))!;
    expect(last.version).toBe(allowed);
    expect(last.state['ftrl.trees']).toBe(Math.ceil(allowed / 2));
    expect(last.state['ftrl.steps']).toBe(allowed - 2 * (Math.ceil(allowed / 2) - 1));
    expect(last.state['ftrl.anchor']).toBeInstanceOf(Float32Array);
  }, 90_000);
});

describe('DP-FTRL with secure aggregation', () => {
  it('unmasks only the sum, then adds the tree node noise it keeps: the model moves by (sum + noise) / n', async () => {
    const coordinator = await session.start({
      rounds: { ...rounds, cohortSize: 3, minReports: 3, minClients: 3, maxRounds: 1 },
      secureAggregation: { range: 1, stageMs: 15_000 },
      strategy: { name: 'fedavg', serverLr: 1 },
      privacy: { ...ftrl, clipNorm: 10, noiseMultiplier: 0.01, minSeparation: 1, epsilonBudget: 1e6 },
    });
    const d = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
    const deltas = [0, 1, 2].map((i) =>
      Float32Array.from({ length: d }, (_, j) => 0.05 * Math.sin(1 + i * 7.3 + j * 0.37)),
    );
    for (const [i, delta] of deltas.entries()) {
      const c = new NodeContributor(coordinator.url, `client-ftrl-secure-${i}`, () => delta);
      clients.push(c);
      await c.hello();
    }
    const record = await waitFor(
      async () => (await coordinator.store.listRounds('tiny')).find((r) => r.status !== 'open'),
      20_000,
    );
    expect(record).toMatchObject({
      status: 'committed',
      reported: 3,
      privacy: { mode: 'ftrl', noiseStd: 0 },
    });
    expect(clients[0]!.rounds[0]!.secagg).toBeDefined();
    const noise = (await coordinator.store.getStrategyState('tiny'))!.state['ftrl.noise.0'] as Float32Array;
    const w0 = (await coordinator.store.getVersion('tiny', 0))!.weights;
    const w1 = (await coordinator.store.getVersion('tiny', 1))!.weights;
    let noiseSq = 0;
    for (let j = 0; j < d; j++) {
      const sum = deltas[0]![j]! + deltas[1]![j]! + deltas[2]![j]!;
      // Fixed point at 24 bits per client, float32 weights: far below the noise's 0.1 std.
      expect(Math.abs(w1[j]! - w0[j]! - (sum + noise[j]!) / 3)).toBeLessThan(1e-5);
      noiseSq += noise[j]! ** 2;
    }
    // Node noise of std z * C = 0.1.
    expect(Math.sqrt(noiseSq / d)).toBeGreaterThan(0.09);
    expect(Math.sqrt(noiseSq / d)).toBeLessThan(0.11);
  }, 60_000);
});

describe('privacy mode "ftrl" over the operator API', () => {
  it('refuses with 400 INVALID_TASK the combinations that cannot work, and creates nothing', async () => {
    const budget = { ...ftrl, epsilonBudget: 10 };
    const adaptive = { targetQuantile: 0.5, learningRate: 0.2, initialClip: 1 };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ privacy: budget, strategy: { name: 'fedadam' } }, /FTRL with momentum/],
      [{ privacy: budget, strategy: { robust: { kind: 'median' } } }, /median/],
      [{ privacy: { ...budget, minSeparation: undefined } }, /minSeparation" is required/],
      [{ privacy: budget, rounds: { ...rounds, maxInFlight: 2 } }, /maxInFlight/],
      [{ privacy: budget, rounds: { ...rounds, mode: 'buffered' } }, /privacy mode "ftrl"/],
      [{ privacy: { ...budget, clipNorm: undefined, adaptive } }, /adaptive/],
    ];
    const coordinator = await session.start({ rounds });
    for (const [fields, message] of cases) {
      const res = await fetch(`${coordinator.url}/api/tasks`, {
        method: 'POST',
        headers: { ...OPERATOR_HEADERS, 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'private', model: { kind: 'mlp', hidden: [4] }, rounds, ...fields }),
      });
      expect(res.status).toBe(400);
      const error = (await res.json()) as { code: string; message: string };
      expect(error.code).toBe('INVALID_TASK');
      expect(error.message).toMatch(message);
    }
    expect(await coordinator.store.getTask('private')).toBeUndefined();
  });
});
