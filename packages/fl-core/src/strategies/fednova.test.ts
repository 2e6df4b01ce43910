import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { weightedAverage } from '../fedavg.ts';
import { fedNovaAggregate, fedNovaFromSums, normalizeBySteps } from './fednova.ts';

describe('fedNovaAggregate', () => {
  it('equals the paper formula tau_eff * sum_i p_i Delta_i / tau_i on known inputs', () => {
    // Two clients, p = (1/4, 3/4) from weights 1 and 3, tau = (2, 8).
    // tau_eff = 1/4 * 2 + 3/4 * 8 = 6.5
    // sum p_i d_i / tau_i = 1/4 * (4, -2) / 2 + 3/4 * (8, 16) / 8 = (0.5, -0.25) + (0.75, 1.5) = (1.25, 1.25)
    // aggregate = 6.5 * (1.25, 1.25) = (8.125, 8.125)
    const out = fedNovaAggregate([
      { delta: Float32Array.of(4, -2), weight: 1, steps: 2 },
      { delta: Float32Array.of(8, 16), weight: 3, steps: 8 },
    ]);
    expect(Array.from(out)).toEqual([8.125, 8.125]);
    // FedAvg on the same inputs is (7, 11.5): the client with 4x the steps pulls harder.
    const fedavg = weightedAverage([
      { vector: Float32Array.of(4, -2), weight: 1 },
      { vector: Float32Array.of(8, 16), weight: 3 },
    ]);
    expect(Array.from(fedavg)).toEqual([7, 11.5]);
  });

  it('is FedAvg when every client took the same number of steps', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            a: fc.float({ min: -10, max: 10, noNaN: true }),
            b: fc.float({ min: -10, max: 10, noNaN: true }),
            w: fc.integer({ min: 1, max: 100 }),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        fc.integer({ min: 1, max: 50 }),
        (clients, steps) => {
          const nova = fedNovaAggregate(
            clients.map((c) => ({ delta: Float32Array.of(c.a, c.b), weight: c.w, steps })),
          );
          const avg = weightedAverage(
            clients.map((c) => ({ vector: Float32Array.of(c.a, c.b), weight: c.w })),
          );
          for (let j = 0; j < 2; j++) expect(nova[j]).toBeCloseTo(avg[j]!, 4);
        },
      ),
    );
  });

  it('from running sums gives the same aggregate, as a masked sum of Delta_i / tau_i and tau_i does', () => {
    const clients = [
      { delta: Float32Array.of(1, 2, 3), weight: 1, steps: 3 },
      { delta: Float32Array.of(-3, 0, 6), weight: 1, steps: 30 },
      { delta: Float32Array.of(2, 2, 2), weight: 1, steps: 10 },
    ];
    const sum = new Float64Array(3);
    let steps = 0;
    for (const c of clients) {
      const n = normalizeBySteps(c.delta, c.steps);
      for (let j = 0; j < 3; j++) sum[j] = sum[j]! + n[j]!;
      steps += c.steps;
    }
    const direct = fedNovaAggregate(clients);
    const fromSums = fedNovaFromSums(sum, clients.length, steps);
    for (let j = 0; j < 3; j++) expect(fromSums[j]).toBeCloseTo(direct[j]!, 5);
  });

  it('refuses no updates, bad steps and mismatched lengths', () => {
    expect(() => fedNovaAggregate([])).toThrow(/at least one/);
    expect(() => fedNovaAggregate([{ delta: Float32Array.of(1), weight: 1, steps: 0 }])).toThrow(/steps/);
    expect(() => fedNovaAggregate([{ delta: Float32Array.of(1), weight: 1, steps: 1.5 }])).toThrow(/steps/);
    expect(() =>
      fedNovaAggregate([
        { delta: Float32Array.of(1), weight: 1, steps: 1 },
        { delta: Float32Array.of(1, 2), weight: 1, steps: 1 },
      ]),
    ).toThrow(/delta/);
    expect(() => normalizeBySteps(Float32Array.of(1), 1e8)).toThrow(/steps/);
  });
});
