import { specSize } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { NodeContributor, waitFor } from '../testing/harness.ts';
import { REGRESSION_TASK } from '../testing/saved-model.ts';
import { testSession } from '../testing/session.ts';

// Issue 14's "everything else works on any task": the round machinery sees flat vectors, so a
// float-feature regression task (3 -> 4 -> 1, d = 21) goes through compression, differential
// privacy, secure aggregation, a server optimizer and FedBuff as the digits do.

const session = testSession();
const cohort = {
  cohortSize: 3,
  minReports: 3,
  minClients: 3,
  overSelection: 1,
  deadlineMs: 20_000,
  maxRounds: 1,
};

/** Client i sends i + 1 times a small vector of norm 0.1: below any clip norm used here. */
function deltaOf(i: number, d: number): Float32Array {
  return Float32Array.from({ length: d }, (_, j) => ((i + 1) * 0.1 * Math.sin(j + 1)) / Math.sqrt(d / 2));
}

const cases: { name: string; task: Record<string, unknown>; exact: number | null }[] = [
  { name: 'plain FedAvg', task: {}, exact: 1e-6 },
  {
    name: 'top-k compression at 8 bits',
    task: { compression: { kind: 'topk', fraction: 0.5, bits: 8 } },
    exact: null,
  },
  {
    name: 'distributed differential privacy',
    task: {
      privacy: { mode: 'distributed', noiseMultiplier: 0.5, clipNorm: 1, delta: 1e-5, epsilonBudget: 1e3 },
    },
    exact: null,
  },
  { name: 'secure aggregation', task: { secureAggregation: { range: 1, stageMs: 15_000 } }, exact: 1e-4 },
  { name: 'FedAdam on the server', task: { strategy: { name: 'fedadam' } }, exact: null },
  {
    name: 'FedBuff',
    task: { rounds: { ...cohort, mode: 'buffered', bufferSize: 3, concurrency: 3, maxRounds: 1 } },
    exact: 1e-6,
  },
];

describe('a regression task through every round feature', () => {
  it.each(cases)('$name: a round of three commits a new version', async ({ task, exact }) => {
    const coordinator = await session.start({
      model: { kind: 'mlp', hidden: [4] },
      ...REGRESSION_TASK,
      rounds: cohort,
      ...task,
    });
    const stored = (await coordinator.store.getTask('tiny'))!;
    expect(stored.spec.target).toEqual({ kind: 'regression', shape: [1] });
    const d = specSize(stored.weightSpec);
    expect(d).toBe(21);
    const deltas = [0, 1, 2].map((i) => deltaOf(i, d));
    for (const [i, delta] of deltas.entries()) {
      const c = new NodeContributor(coordinator.url, `client-any-${i}`, () => delta);
      session.clients.push(c);
      expect((await c.hello()).ok).toBe(true);
    }
    const round = await waitFor(
      async () => (await coordinator.store.listRounds('tiny')).find((r) => r.status !== 'open'),
      30_000,
    );
    expect(round).toMatchObject({ status: 'committed', reported: 3, newVersion: 1 });
    const v0 = (await coordinator.store.getVersion('tiny', 0))!.weights;
    const v1 = (await coordinator.store.getVersion('tiny', 1))!.weights;
    expect(v1.every(Number.isFinite)).toBe(true);
    expect(v1.some((w, j) => w !== v0[j])).toBe(true);
    if (exact !== null) {
      // Equal example counts: the new model is the old one plus the mean of the three deltas.
      for (let j = 0; j < d; j++) {
        const mean = (deltas[0]![j]! + deltas[1]![j]! + deltas[2]![j]!) / 3;
        expect(Math.abs(v1[j]! - (v0[j]! + mean))).toBeLessThan(exact);
      }
    }
  });
});
