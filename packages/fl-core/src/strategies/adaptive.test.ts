import { describe, expect, it } from 'vitest';
import { createAdaptive, createFedAdagrad, createFedAdam, createFedYogi } from './adaptive.ts';

// Known answers worked by hand from Reddi et al. 2021, Algorithm 2, with values chosen so the
// square roots come out exact: tau = 3 makes v_{-1} = 9.

function run(strategy: ReturnType<typeof createFedAdam>, deltas: readonly (readonly number[])[]): number[][] {
  let x: Float32Array = new Float32Array(strategy.dimension);
  const trace: number[][] = [];
  for (const d of deltas) {
    x = strategy.apply(x, Float32Array.from(d));
    trace.push(Array.from(x));
  }
  return trace;
}

describe('FedAdagrad', () => {
  it('v sums Delta^2 (known answer)', () => {
    // round 1: m = 0.5*4 = 2, v = 9 + 16 = 25, x = 2 / (5 + 3) = 0.25
    // round 2: m = 0.5*2 + 0.5*12 = 7, v = 25 + 144 = 169, x = 0.25 + 7 / (13 + 3) = 0.6875
    const s = createFedAdagrad(2, { serverLr: 1, beta1: 0.5, tau: 3 });
    expect(
      run(s, [
        [4, -4],
        [12, -12],
      ]),
    ).toEqual([
      [0.25, -0.25],
      [0.6875, -0.6875],
    ]);
    expect(s.state()).toEqual({ rounds: 2, m: Float32Array.of(7, -7), v: Float32Array.of(169, 169) });
  });

  it('has no beta2 and says so', () => {
    expect(() => createFedAdagrad(1, { beta2: 0.9 })).toThrow(/"beta2" does not apply to fedadagrad/);
  });
});

describe('FedAdam', () => {
  it('v is an exponential average of Delta^2, no bias correction (known answer)', () => {
    // eta 2, beta1 0.5, beta2 0.75, tau 3.
    // coord 0, Delta 3 then 3: v = 0.75*9 + 0.25*9 = 9 both rounds; m = 1.5 then 2.25;
    //   x = 2*1.5/6 = 0.5, then 0.5 + 2*2.25/6 = 1.25.
    // coord 1, Delta 0: m = 0, v = 6.75 then 5.0625, x stays 0.
    const s = createFedAdam(2, { serverLr: 2, beta1: 0.5, beta2: 0.75, tau: 3 });
    expect(
      run(s, [
        [3, 0],
        [3, 0],
      ]),
    ).toEqual([
      [0.5, 0],
      [1.25, 0],
    ]);
    expect(s.state()).toEqual({ rounds: 2, m: Float32Array.of(2.25, 0), v: Float32Array.of(9, 5.0625) });
  });

  it('starts v at tau^2 with the documented defaults', () => {
    const s = createFedAdam(1);
    const v = s.state().v as Float32Array;
    expect(v[0]).toBe(Math.fround(1e-6));
    // First step with Delta = 1: 0.01 * 0.1 / (sqrt(0.99e-6 + 0.01) + 1e-3) = 0.0099005...
    const x = s.apply(Float32Array.of(0), Float32Array.of(1));
    expect(x[0]).toBeCloseTo(0.0099005, 6);
  });
});

describe('FedYogi', () => {
  it('v moves additively toward Delta^2 by its sign (known answer)', () => {
    // eta 2, beta1 0.5, beta2 0.75, tau 3, v_{-1} = 9.
    // coord 0, Delta 8 then 24: 64 > 9, v = 9 + 16 = 25, m = 4, x = 2*4/8 = 1;
    //   576 > 25, v = 25 + 144 = 169, m = 2 + 12 = 14, x = 1 + 2*14/16 = 2.75.
    // coord 1, Delta 2 then 3: 4 < 9, v = 9 - 1 = 8, m = 1, x = 2/(sqrt 8 + 3) = 0.3431458;
    //   9 > 8, v = 8 + 2.25 = 10.25, m = 2, x += 4/(sqrt 10.25 + 3) = 0.6449988.
    // coord 2, Delta 3: Delta^2 = v, sign 0, v stays 9, m = 1.5, x = 2*1.5/6 = 0.5.
    const s = createFedYogi(3, { serverLr: 2, beta1: 0.5, beta2: 0.75, tau: 3 });
    const [r1, r2] = run(s, [
      [8, 2, 3],
      [24, 3, 0],
    ]);
    expect(r1![0]).toBe(1);
    expect(r1![1]).toBeCloseTo(0.3431458, 6);
    expect(r1![2]).toBe(0.5);
    expect(r2![0]).toBe(2.75);
    expect(r2![1]).toBeCloseTo(0.3431458 + 0.6449988, 6);
    const state = s.state();
    expect(Array.from(state.v as Float32Array)).toEqual([169, 10.25, 9]);
  });

  it('differs from FedAdam after a large update: Adam forgets v faster', () => {
    const opts = { serverLr: 1, beta1: 0, beta2: 0.75, tau: 3 };
    const yogi = createFedYogi(1, opts);
    const adam = createFedAdam(1, opts);
    yogi.apply(Float32Array.of(0), Float32Array.of(8));
    adam.apply(Float32Array.of(0), Float32Array.of(8));
    expect((yogi.state().v as Float32Array)[0]).toBe(25);
    expect((adam.state().v as Float32Array)[0]).toBe(22.75);
  });
});

describe('adaptive state', () => {
  it('resumes from a snapshot exactly', () => {
    for (const name of ['fedadam', 'fedyogi', 'fedadagrad'] as const) {
      const a = createAdaptive(name, 2, { serverLr: 0.1 });
      const x1 = a.apply(Float32Array.of(0, 0), Float32Array.of(0.3, -0.2));
      const snapshot = a.state();
      const next = a.apply(x1, Float32Array.of(-0.1, 0.4));
      const b = createAdaptive(name, 2, { serverLr: 0.1 });
      b.restore(snapshot);
      expect(Array.from(b.apply(x1, Float32Array.of(-0.1, 0.4)))).toEqual(Array.from(next));
      expect(b.state().rounds).toBe(2);
    }
  });

  it('refuses a negative second moment and bad hyper-parameters', () => {
    const s = createFedAdam(1);
    expect(() => s.restore({ rounds: 0, m: Float32Array.of(0), v: Float32Array.of(-1) })).toThrow(
      /"v" expected non-negative/,
    );
    expect(() => createFedAdam(1, { beta1: 1 })).toThrow('"beta1" expected finite number in [0, 1), got 1');
    expect(() => createFedYogi(1, { beta2: -0.1 })).toThrow(/"beta2"/);
    expect(() => createFedAdam(1, { tau: 0 })).toThrow('"tau" expected positive finite number, got 0');
    expect(() => createFedAdam(1, { serverLr: Number.NaN })).toThrow(/"serverLr"/);
  });
});
