import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WeightedAccumulator, weightedAverage } from './fedavg.ts';

describe('FedAvg', () => {
  it('weights each vector by its example count', () => {
    const out = weightedAverage([
      { vector: Float32Array.from([1, 0]), weight: 10 },
      { vector: Float32Array.from([4, 2]), weight: 30 },
    ]);
    expect(out).toEqual(Float32Array.from([3.25, 1.5]));
  });

  it('of identical updates is that update, in any order, whatever the weights', () => {
    fc.assert(
      fc.property(
        fc.float32Array({
          minLength: 1,
          maxLength: 50,
          noNaN: true,
          noDefaultInfinity: true,
          min: -1e6,
          max: 1e6,
        }),
        fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 8 }),
        (v, weights) => {
          const out = weightedAverage(weights.map((weight) => ({ vector: v, weight })));
          v.forEach((x, i) => {
            expect(out[i]).toBeCloseTo(x, 1);
          });
        },
      ),
    );
  });

  it('the streaming accumulator equals the batch average', () => {
    const inputs = [
      { vector: Float32Array.from([1, 2, 3]), weight: 2 },
      { vector: Float32Array.from([-1, 0, 5]), weight: 1 },
    ];
    const acc = new WeightedAccumulator(3);
    for (const { vector, weight } of inputs) acc.add(vector, weight);
    expect(acc.count).toBe(2);
    expect(acc.weight).toBe(3);
    expect(acc.mean()).toEqual(weightedAverage(inputs));
  });

  it('refuses empty input, bad weights and mismatched sizes', () => {
    expect(() => weightedAverage([])).toThrow(/at least one/);
    expect(() => weightedAverage([{ vector: new Float32Array(2), weight: 0 }])).toThrow(/positive/);
    expect(() => weightedAverage([{ vector: new Float32Array(2), weight: Number.NaN }])).toThrow(/positive/);
    expect(() => new WeightedAccumulator(2).add(new Float32Array(3), 1)).toThrow(/expected 2 values/);
    expect(() => new WeightedAccumulator(2).mean()).toThrow(/no vectors/);
  });
});

describe('partial sums across servers', () => {
  it('merging the partial sums of any split of the vectors gives the mean over all of them', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.array(fc.float({ min: -10, max: 10, noNaN: true }), { minLength: 3, maxLength: 3 }),
            fc.integer({ min: 1, max: 50 }),
          ),
          { minLength: 1, maxLength: 12 },
        ),
        fc.integer({ min: 1, max: 4 }),
        (items, servers) => {
          const whole = new WeightedAccumulator(3);
          const parts = Array.from({ length: servers }, () => new WeightedAccumulator(3));
          items.forEach(([v, w], i) => {
            whole.add(Float32Array.from(v), w);
            parts[i % servers]!.add(Float32Array.from(v), w);
          });
          const merged = new WeightedAccumulator(3);
          for (const p of parts) merged.merge(p.partial());
          expect(merged.count).toBe(whole.count);
          expect(merged.weight).toBe(whole.weight);
          const [a, b] = [merged.mean(), whole.mean()];
          for (let i = 0; i < 3; i++) expect(a[i]).toBeCloseTo(b[i]!, 4);
        },
      ),
    );
  });

  it('refuses a partial of another dimension or with a negative weight', () => {
    const acc = new WeightedAccumulator(2);
    expect(() => acc.merge({ sum: new Float64Array(3), weight: 1, count: 1 })).toThrow(/expected 2 values/);
    expect(() => acc.merge({ sum: new Float64Array(2), weight: -1, count: 1 })).toThrow(/non-negative/);
  });
});
