import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { weightedAverage } from '../fedavg.ts';
import { axpy } from '../vector.ts';
import {
  scaffoldClientUpdate,
  scaffoldCorrection,
  scaffoldServerControl,
  scaffoldServerUpdate,
} from './scaffold.ts';

describe('SCAFFOLD (Karimireddy et al. 2020, Algorithm 1)', () => {
  it('correction c - c_i (known answer)', () => {
    expect(Array.from(scaffoldCorrection(Float32Array.of(1, -2), Float32Array.of(0.5, 0.5)))).toEqual([
      0.5, -2.5,
    ]);
  });

  it('client option II: c_i+ = c_i - c + (x - y) / (K lr) (known answer)', () => {
    // K * lr = 4 * 0.25 = 1, (x - y) = (0.5, -1); c_i+ = (0.5 - 1 + 0.5, 0.5 + 2 - 1) = (0, 1.5).
    const out = scaffoldClientUpdate({
      c: Float32Array.of(1, -2),
      ci: Float32Array.of(0.5, 0.5),
      x: Float32Array.of(1, 1),
      y: Float32Array.of(0.5, 2),
      steps: 4,
      lr: 0.25,
    });
    expect(Array.from(out.ci)).toEqual([0, 1.5]);
    expect(Array.from(out.deltaC)).toEqual([-0.5, 1]);
    expect(Array.from(out.deltaY)).toEqual([-0.5, 1]);
  });

  it('server: x + eta_g mean dy, c + (|S|/N) mean dc (known answer)', () => {
    const { x, c } = scaffoldServerUpdate({
      x: Float32Array.of(1, 1),
      c: Float32Array.of(0, 0),
      meanDeltaY: Float32Array.of(0.5, -1),
      meanDeltaC: Float32Array.of(2, -4),
      globalLr: 2,
      fraction: 0.25,
    });
    expect(Array.from(x)).toEqual([2, -1]);
    expect(Array.from(c)).toEqual([0.5, -1]);
    expect(Array.from(scaffoldServerControl(Float32Array.of(1), Float32Array.of(3), 1))).toEqual([4]);
  });

  it('c_i+ = c_i + Delta c_i and Delta y = y - x for any input', () => {
    const v = fc.array(fc.float({ min: -10, max: 10, noNaN: true, noDefaultInfinity: true }), {
      minLength: 3,
      maxLength: 3,
    });
    fc.assert(
      fc.property(
        v,
        v,
        v,
        v,
        fc.integer({ min: 1, max: 100 }),
        fc.double({ min: 1e-3, max: 1, noNaN: true }),
        (c, ci, x, y, K, lr) => {
          const out = scaffoldClientUpdate({
            c: Float32Array.from(c),
            ci: Float32Array.from(ci),
            x: Float32Array.from(x),
            y: Float32Array.from(y),
            steps: K,
            lr,
          });
          for (let i = 0; i < 3; i++) {
            const expected = Math.fround(ci[i]!) + out.deltaC[i]!;
            expect(Math.abs(out.ci[i]! - expected)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(expected)));
            expect(out.deltaY[i]).toBe(Math.fround(Math.fround(y[i]!) - Math.fround(x[i]!)));
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('removes client drift: on quadratics it reaches the optimum that FedAvg misses', () => {
    // Client i minimises a_i / 2 * (w - b_i)^2. The global optimum is sum a_i b_i / sum a_i = 1.
    // With K local steps FedAvg settles where the clients' contractions balance instead.
    const a = [1, 4, 0.25];
    const b = [0, 1, 5];
    const K = 10;
    const lr = 0.1;
    const localRun = (x: Float32Array, i: number, correction: Float32Array | null): Float32Array => {
      const y = x.slice();
      for (let k = 0; k < K; k++) {
        const grad = Float32Array.of(a[i]! * (y[0]! - b[i]!));
        if (correction) axpy(1, correction, grad);
        axpy(-lr, grad, y);
      }
      return y;
    };

    let fedavg: Float32Array = Float32Array.of(0);
    let x: Float32Array = Float32Array.of(0);
    let c: Float32Array = Float32Array.of(0);
    const cis: Float32Array[] = a.map(() => Float32Array.of(0));
    for (let round = 0; round < 300; round++) {
      fedavg = weightedAverage(a.map((_, i) => ({ vector: localRun(fedavg, i, null), weight: 1 })));
      const updates = a.map((_, i) => {
        const y = localRun(x, i, scaffoldCorrection(c, cis[i]!));
        const u = scaffoldClientUpdate({ c, ci: cis[i]!, x, y, steps: K, lr });
        cis[i] = u.ci;
        return u;
      });
      ({ x, c } = scaffoldServerUpdate({
        x,
        c,
        meanDeltaY: weightedAverage(updates.map((u) => ({ vector: u.deltaY, weight: 1 }))),
        meanDeltaC: weightedAverage(updates.map((u) => ({ vector: u.deltaC, weight: 1 }))),
        globalLr: 1,
        fraction: 1,
      }));
    }
    expect(Math.abs(x[0]! - 1)).toBeLessThan(1e-4);
    expect(Math.abs(fedavg[0]! - 1)).toBeGreaterThan(0.1);
  });

  it('refuses bad steps, lr, fraction and mismatched lengths', () => {
    const z = new Float32Array(2);
    const base = { c: z, ci: z, x: z, y: z, steps: 1, lr: 0.1 };
    expect(() => scaffoldClientUpdate({ ...base, steps: 0 })).toThrow(/"steps" expected integer/);
    expect(() => scaffoldClientUpdate({ ...base, lr: -1 })).toThrow(
      '"lr" expected positive finite number, got -1',
    );
    expect(() => scaffoldClientUpdate({ ...base, y: new Float32Array(3) })).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH' }),
    );
    expect(() => scaffoldServerControl(z, z, 0)).toThrow(/"fraction"/);
    expect(() => scaffoldServerControl(z, z, 1.5)).toThrow(
      '"fraction" expected finite number in [0, 1], got 1.5',
    );
    expect(() =>
      scaffoldServerUpdate({ x: z, c: z, meanDeltaY: z, meanDeltaC: z, globalLr: 0, fraction: 1 }),
    ).toThrow(/"globalLr"/);
  });
});
