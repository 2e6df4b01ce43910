import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PollenError } from '../errors.ts';
import {
  computeRdp,
  DEFAULT_ORDERS,
  epsilonFor,
  rdpOfSubsampledGaussian,
  rdpToEpsilon,
} from './accountant.ts';

const ORDERS_2_TO_32 = Array.from({ length: 31 }, (_, i) => i + 2);

function expectRelative(actual: number, expected: number, tolerance: number): void {
  expect(Math.abs(actual / expected - 1)).toBeLessThan(tolerance);
}

describe('computeRdp: known answers', () => {
  // TensorFlow Privacy's rdp_accountant_test `test_compute_rdp_sequence`.
  it('q = 0.01, z = 2.5, 50 steps at orders 2.5, 5, 50, 100', () => {
    const rdp = computeRdp({
      samplingRate: 0.01,
      noiseMultiplier: 2.5,
      steps: 50,
      orders: [2.5, 5, 50, 100],
    });
    const expected = [1.0854871e-3, 2.18075656e-3, 2.38460375e-2, 167.416308];
    rdp.forEach((r, i) => {
      expectRelative(r, expected[i]!, 1e-4);
    });
  });

  it('matches direct numerical integration of A_alpha to 1e-9', () => {
    // mpmath.quad at 50 digits of E_{x~N(0,s^2)}[((1-q) + q N(x;1,s^2)/N(x;0,s^2))^alpha], times
    // 50/(alpha-1). The 1.08548710e-3 at order 2.5 is 6e-5 away from this value.
    const rdp = computeRdp({
      samplingRate: 0.01,
      noiseMultiplier: 2.5,
      steps: 50,
      orders: [1.5, 2.5, 5, 50],
    });
    const expected = [
      6.500708971880398e-4, 1.0854180569181244e-3, 2.1807565623078807e-3, 2.384603753870617e-2,
    ];
    rdp.forEach((r, i) => {
      expectRelative(r, expected[i]!, 1e-9);
    });
  });

  it('q = 1 is the plain Gaussian mechanism, alpha / (2 z^2)', () => {
    expect(computeRdp({ samplingRate: 1, noiseMultiplier: 2, steps: 3, orders: [1.5, 4] })).toEqual([
      (3 * 1.5) / 8,
      (3 * 4) / 8,
    ]);
  });

  it('no sampling, no steps or no noise', () => {
    expect(computeRdp({ samplingRate: 0, noiseMultiplier: 1, steps: 5, orders: [2] })).toEqual([0]);
    expect(computeRdp({ samplingRate: 0.1, noiseMultiplier: 0, steps: 0, orders: [2] })).toEqual([0]);
    expect(computeRdp({ samplingRate: 0.1, noiseMultiplier: 0, steps: 1, orders: [2] })).toEqual([
      Number.POSITIVE_INFINITY,
    ]);
  });
});

describe('epsilon: known answers', () => {
  it('q = 1e-5, z = 1 for 10 steps then q = 1e-4, z = 3 for 4 steps: epsilon 0.336 at order 23', () => {
    const a = computeRdp({ samplingRate: 1e-5, noiseMultiplier: 1, steps: 10, orders: ORDERS_2_TO_32 });
    const b = computeRdp({ samplingRate: 1e-4, noiseMultiplier: 3, steps: 4, orders: ORDERS_2_TO_32 });
    const spent = rdpToEpsilon(
      ORDERS_2_TO_32,
      a.map((r, i) => r + b[i]!),
      1e-5,
    );
    expect(Math.abs(spent.epsilon - 0.336)).toBeLessThan(1e-3);
    expect(spent.order).toBe(23);
  });

  it('constant RDP 1.1 at orders 2..32, delta 1e-5: epsilon 1.32783806176 at order 32', () => {
    const spent = rdpToEpsilon(
      ORDERS_2_TO_32,
      ORDERS_2_TO_32.map(() => 1.1),
      1e-5,
    );
    expectRelative(spent.epsilon, 1.32783806176, 1e-4);
    expect(spent.order).toBe(32);
    // Classic conversion: 1.1 + log(1e5) / 31.
    expectRelative(
      rdpToEpsilon(
        ORDERS_2_TO_32,
        ORDERS_2_TO_32.map(() => 1.1),
        1e-5,
        'classic',
      ).epsilon,
      1.1 + Math.log(1e5) / 31,
      1e-12,
    );
  });

  it('DP-SGD on MNIST: q = 256/60000, z = 1.12, 60 epochs, delta 1e-5', () => {
    const run = {
      samplingRate: 256 / 60000,
      noiseMultiplier: 1.12,
      steps: Math.ceil((60 * 60000) / 256),
      delta: 1e-5,
    };
    const improved = epsilonFor(run);
    const classic = epsilonFor({ ...run, conversion: 'classic' });
    expect(Math.abs(improved.epsilon - 2.52)).toBeLessThan(0.01);
    expect(Math.abs(classic.epsilon - 2.92)).toBeLessThan(0.01);
    expect(DEFAULT_ORDERS).toContain(improved.order);
  });
});

describe('accountant properties', () => {
  const q = fc.double({ min: 1e-4, max: 0.5, noNaN: true });
  const z = fc.double({ min: 0.5, max: 5, noNaN: true });

  it('RDP grows with the order, with q and as z shrinks', () => {
    fc.assert(
      fc.property(q, z, fc.double({ min: 1.05, max: 40, noNaN: true }), (q, z, order) => {
        const r = rdpOfSubsampledGaussian(q, z, order);
        const slack = 1 - 1e-9;
        expect(r).toBeGreaterThanOrEqual(0);
        expect(rdpOfSubsampledGaussian(q, z, order + 0.5)).toBeGreaterThanOrEqual(r * slack);
        expect(rdpOfSubsampledGaussian(Math.min(1, q * 1.5), z, order)).toBeGreaterThanOrEqual(r * slack);
        expect(rdpOfSubsampledGaussian(q, z * 1.5, order)).toBeLessThanOrEqual(r / slack);
        // Subsampling only helps: never worse than the Gaussian mechanism itself.
        expect(r).toBeLessThanOrEqual(order / (2 * z * z) / slack);
      }),
      { numRuns: 60 },
    );
  });

  it('integer and fractional series agree across an integer order', () => {
    fc.assert(
      fc.property(q, z, fc.integer({ min: 2, max: 30 }), (q, z, order) => {
        const at = rdpOfSubsampledGaussian(q, z, order);
        const below = rdpOfSubsampledGaussian(q, z, order - 1e-7);
        const above = rdpOfSubsampledGaussian(q, z, order + 1e-7);
        expect(below).toBeLessThanOrEqual(at * (1 + 1e-5) + 1e-15);
        expect(above).toBeGreaterThanOrEqual(at * (1 - 1e-5) - 1e-15);
      }),
      { numRuns: 40 },
    );
  });

  it('the improved conversion never exceeds the classic one', () => {
    fc.assert(
      fc.property(q, z, fc.integer({ min: 1, max: 1000 }), (q, z, steps) => {
        const run = { samplingRate: q, noiseMultiplier: z, steps, delta: 1e-5 };
        expect(epsilonFor(run).epsilon).toBeLessThanOrEqual(
          epsilonFor({ ...run, conversion: 'classic' }).epsilon,
        );
      }),
      { numRuns: 30 },
    );
  });

  it('no noise means no finite epsilon; no rounds means epsilon 0', () => {
    expect(epsilonFor({ samplingRate: 0.1, noiseMultiplier: 0, steps: 1, delta: 1e-5 })).toEqual({
      epsilon: Number.POSITIVE_INFINITY,
      order: Number.NaN,
    });
    expect(epsilonFor({ samplingRate: 0.1, noiseMultiplier: 1, steps: 0, delta: 1e-5 }).epsilon).toBe(0);
  });
});

describe('accountant validation', () => {
  const base = { samplingRate: 0.01, noiseMultiplier: 1, steps: 10, delta: 1e-5 };
  it.each([
    [{ samplingRate: 1.5 }, '"samplingRate" expected finite number in [0, 1], got 1.5'],
    [{ samplingRate: Number.NaN }, '"samplingRate" expected finite number in [0, 1], got NaN'],
    [{ noiseMultiplier: -1 }, '"noiseMultiplier" expected non-negative finite number, got -1'],
    [{ steps: 1.5 }, '"steps" expected integer'],
    [{ delta: 1 }, '"delta" expected finite number in (0, 1), got 1'],
    [{ delta: 0 }, '"delta" expected finite number in (0, 1), got 0'],
    [{ orders: [] }, '"orders" expected a non-empty array'],
    [{ orders: [2, 1] }, '"orders[1]" expected finite number in (1, 1e6], got 1'],
  ])('refuses %j', (override, message) => {
    const call = (): unknown => epsilonFor({ ...base, ...override });
    expect(call).toThrow(PollenError);
    expect(call).toThrow(message);
  });

  it('refuses RDP of the wrong length or sign', () => {
    expect(() => rdpToEpsilon([2, 3], [1], 1e-5)).toThrow('"rdp" expected 2 values, got 1');
    expect(() => rdpToEpsilon([2], [-1], 1e-5)).toThrow('"rdp[0]" expected non-negative number, got -1');
  });
});
