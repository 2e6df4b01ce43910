import { describe, expect, it } from 'vitest';
import type { WeightedVector } from '../fedavg.ts';
import { weightedAverage } from '../fedavg.ts';
import { gaussian, seededRng } from '../rng.ts';
import { l2norm, subtract } from '../vector.ts';
import type { RobustConfig } from './robust.ts';
import { ROBUST_KINDS, robustAggregate, robustMinUpdates } from './robust.ts';

const line: WeightedVector[] = [0, 1, 2, 3, 100].map((v, k) => ({
  vector: Float32Array.of(v),
  weight: k + 1,
}));

describe('robustAggregate', () => {
  it('dispatches each rule (known answers on 0, 1, 2, 3, 100 weighted 1..5)', () => {
    const agg = (config: RobustConfig): number[] => Array.from(robustAggregate(config, line).delta);
    expect(agg({ kind: 'none' })[0]).toBeCloseTo((0 + 2 + 6 + 12 + 500) / 15, 5);
    expect(agg({ kind: 'median' })).toEqual([2]);
    expect(agg({ kind: 'trimmed-mean', beta: 0.2 })).toEqual([2]);
    expect(agg({ kind: 'krum', f: 1 })).toEqual([1]);
    expect(agg({ kind: 'multi-krum', f: 1, m: 3 })).toEqual([1]);
    // Each clipped to 2: 0, 1, 2, 2, 2 weighted 1..5 -> (0 + 2 + 6 + 8 + 10) / 15.
    expect(agg({ kind: 'norm-bound', bound: 2 })[0]).toBeCloseTo(26 / 15, 6);
    expect(robustAggregate({ kind: 'krum', f: 1 }, line).selected).toEqual([1]);
    expect(robustAggregate({ kind: 'median' }, line).selected).toBeUndefined();
  });

  it("'none' is FedAvg's weighted mean", () => {
    expect(robustAggregate({ kind: 'none' }, line).delta).toEqual(weightedAverage(line));
  });

  it('knows how many updates each rule needs', () => {
    expect(ROBUST_KINDS).toHaveLength(6);
    expect(robustMinUpdates({ kind: 'median' })).toBe(1);
    expect(robustMinUpdates({ kind: 'krum', f: 2 })).toBe(7);
    expect(robustMinUpdates({ kind: 'multi-krum', f: 0 })).toBe(3);
  });

  it('20% sign-flipped x10 updates wreck the mean but not trimmed mean or Multi-Krum', () => {
    const rng = seededRng(7);
    const d = 50;
    const truth = Float32Array.from({ length: d }, () => gaussian(rng));
    const honest = (): Float32Array => Float32Array.from(truth, (t) => t + 0.3 * gaussian(rng));
    const updates: WeightedVector[] = [];
    for (let k = 0; k < 20; k++) {
      const u = honest();
      // Clients 0, 5, 10, 15 are Byzantine: they send -10x their honest update.
      updates.push({ vector: k % 5 === 0 ? Float32Array.from(u, (x) => -10 * x) : u, weight: 100 });
    }
    const error = (config: RobustConfig): number =>
      l2norm(subtract(robustAggregate(config, updates).delta, truth)) / l2norm(truth);
    expect(error({ kind: 'none' })).toBeGreaterThan(1);
    expect(error({ kind: 'trimmed-mean', beta: 0.25 })).toBeLessThan(0.15);
    expect(error({ kind: 'multi-krum', f: 4 })).toBeLessThan(0.15);
    expect(error({ kind: 'median' })).toBeLessThan(0.15);
    expect(robustAggregate({ kind: 'multi-krum', f: 4 }, updates).selected?.every((k) => k % 5 !== 0)).toBe(
      true,
    );
  });
});
