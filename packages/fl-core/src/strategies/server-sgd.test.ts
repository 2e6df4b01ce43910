import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { weightedAverage } from '../fedavg.ts';
import { subtract } from '../vector.ts';
import { createFedAvg, createFedAvgM } from './server-sgd.ts';

const f32 = fc.float({ min: -100, max: 100, noNaN: true, noDefaultInfinity: true });

/** n client models of dimension d with positive example counts, plus a global model. */
const round = (n: number, d: number) =>
  fc.record({
    global: fc.array(f32, { minLength: d, maxLength: d }),
    clients: fc.array(
      fc.record({
        model: fc.array(f32, { minLength: d, maxLength: d }),
        examples: fc.integer({ min: 1, max: 1000 }),
      }),
      { minLength: n, maxLength: n },
    ),
  });

describe('createFedAvg', () => {
  it('steps x + eta * Delta (known answer)', () => {
    const x = Float32Array.of(1, 2);
    const delta = Float32Array.of(0.5, -1);
    expect(Array.from(createFedAvg(2).apply(x, delta))).toEqual([1.5, 1]);
    expect(Array.from(createFedAvg(2, { serverLr: 0.5 }).apply(x, delta))).toEqual([1.25, 1.5]);
  });

  it('FedAvg of identical client models is that model', () => {
    fc.assert(
      fc.property(
        round(1, 5),
        fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 8 }),
        (r, counts) => {
          const global = Float32Array.from(r.global);
          const model = Float32Array.from(r.clients[0]!.model);
          const delta = weightedAverage(
            counts.map((weight) => ({ vector: subtract(model, global), weight })),
          );
          const next = createFedAvg(5).apply(global, delta);
          next.forEach((v, i) => {
            expect(Math.abs(v - model[i]!)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(model[i]!)));
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('with lr 1 gives the example-weighted average of the client models (McMahan et al.)', () => {
    fc.assert(
      fc.property(round(4, 6), (r) => {
        const global = Float32Array.from(r.global);
        const models = r.clients.map((c) => ({ vector: Float32Array.from(c.model), weight: c.examples }));
        const deltas = models.map((c) => ({ vector: subtract(c.vector, global), weight: c.weight }));
        const next = createFedAvg(6).apply(global, weightedAverage(deltas));
        const expected = weightedAverage(models);
        next.forEach((v, i) => {
          expect(Math.abs(v - expected[i]!)).toBeLessThan(1e-3);
        });
      }),
      { numRuns: 100 },
    );
  });

  it('counts rounds and restores them', () => {
    const s = createFedAvg(1);
    s.apply(Float32Array.of(0), Float32Array.of(1));
    expect(s.state()).toEqual({ rounds: 1 });
    s.restore({ rounds: 7 });
    expect(s.state()).toEqual({ rounds: 7 });
    expect(() => s.restore({ rounds: -1 })).toThrow(/"rounds" expected non-negative integer/);
  });

  it('refuses bad inputs with stable codes', () => {
    expect(() => createFedAvg(2, { serverLr: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => createFedAvg(0)).toThrow(/"dimension" expected integer/);
    const s = createFedAvg(2);
    expect(() => s.apply(Float32Array.of(1), Float32Array.of(1, 2))).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH' }),
    );
    expect(() => s.apply(Float32Array.of(1, 2), Float32Array.of(1, Number.NaN))).toThrow(
      expect.objectContaining({ code: 'NON_FINITE' }),
    );
  });
});

describe('createFedAvgM', () => {
  it('m = beta m + Delta, x += eta m (known answer, Hsu et al. 2019)', () => {
    const s = createFedAvgM(1, { momentum: 0.5 });
    let x: Float32Array = Float32Array.of(0);
    // m: 2, 0.5*2 + 2 = 3, 0.5*3 - 4 = -2.5; x: 2, 5, 2.5
    x = s.apply(x, Float32Array.of(2));
    expect(x[0]).toBe(2);
    x = s.apply(x, Float32Array.of(2));
    expect(x[0]).toBe(5);
    x = s.apply(x, Float32Array.of(-4));
    expect(x[0]).toBe(2.5);
    const state = s.state();
    expect(state.rounds).toBe(3);
    expect(Array.from(state.m as Float32Array)).toEqual([-2.5]);
  });

  it('with lr 1 and no momentum equals FedAvg over several rounds', () => {
    fc.assert(
      fc.property(fc.array(round(3, 4), { minLength: 1, maxLength: 4 }), (rounds) => {
        const m = createFedAvgM(4, { serverLr: 1, momentum: 0 });
        for (const r of rounds) {
          const global = Float32Array.from(r.global);
          const models = r.clients.map((c) => ({ vector: Float32Array.from(c.model), weight: c.examples }));
          const deltas = models.map((c) => ({ vector: subtract(c.vector, global), weight: c.weight }));
          const next = m.apply(global, weightedAverage(deltas));
          const fedavg = weightedAverage(models);
          next.forEach((v, i) => {
            expect(Math.abs(v - fedavg[i]!)).toBeLessThan(1e-3);
          });
        }
      }),
      { numRuns: 50 },
    );
  });

  it('resumes from a snapshot exactly, and snapshots do not alias the live state', () => {
    const a = createFedAvgM(3, { momentum: 0.9, serverLr: 0.7 });
    const x0 = Float32Array.of(1, -1, 0.5);
    const d1 = Float32Array.of(0.1, 0.2, -0.3);
    const d2 = Float32Array.of(-0.4, 0.5, 0.6);
    const x1 = a.apply(x0, d1);
    const snapshot = a.state();
    const copy = Array.from(snapshot.m as Float32Array);
    const fromA = a.apply(x1, d2);
    expect(Array.from(snapshot.m as Float32Array)).toEqual(copy);
    const b = createFedAvgM(3, { momentum: 0.9, serverLr: 0.7 });
    b.restore(snapshot);
    expect(Array.from(b.apply(x1, d2))).toEqual(Array.from(fromA));
    expect(Array.from(x0)).toEqual([1, -1, 0.5]);
    expect(Array.from(d1)).toEqual([Math.fround(0.1), Math.fround(0.2), Math.fround(-0.3)]);
  });

  it('refuses momentum outside [0, 1) and a malformed snapshot', () => {
    expect(() => createFedAvgM(1, { momentum: 1 })).toThrow(
      '"momentum" expected finite number in [0, 1), got 1',
    );
    expect(() => createFedAvgM(1, { momentum: Number.NaN })).toThrow(/"momentum"/);
    const s = createFedAvgM(2);
    expect(() => s.restore({ rounds: 1 })).toThrow(/"m" expected Float32Array/);
    expect(() => s.restore({ rounds: 1, m: new Float32Array(3) })).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH' }),
    );
    // A refused snapshot leaves the state as it was.
    expect(s.state()).toEqual({ rounds: 0, m: new Float32Array(2) });
  });
});
