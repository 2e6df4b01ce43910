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
