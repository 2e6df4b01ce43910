import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { l2norm } from '../vector.ts';
import { boundUpdateNorm, normBoundedMean } from './norm-bound.ts';

describe('norm bounding (Sun et al. 2019)', () => {
  it('scales a long update to the bound and copies a short one (known answer)', () => {
    const u = Float32Array.of(3, 4);
    expect(Array.from(boundUpdateNorm(u, 1))).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    const short = boundUpdateNorm(u, 10);
    expect(Array.from(short)).toEqual([3, 4]);
    expect(short).not.toBe(u);
  });

  it('averages the clipped updates by weight (known answer)', () => {
    const out = normBoundedMean(
      [
        { vector: Float32Array.of(3, 4), weight: 1 },
        { vector: Float32Array.of(0, 0.5), weight: 3 },
      ],
      1,
    );
    // (0.6, 0.8) * 1/4 + (0, 0.5) * 3/4 = (0.15, 0.575)
    expect(out[0]).toBeCloseTo(0.15, 6);
    expect(out[1]).toBeCloseTo(0.575, 6);
  });

  it('the aggregate never exceeds the bound, however large an update is', () => {
    const vec = fc.array(fc.float({ min: Math.fround(-1e6), max: Math.fround(1e6), noNaN: true }), {
      minLength: 4,
      maxLength: 4,
    });
    fc.assert(
      fc.property(
        fc.array(fc.record({ v: vec, w: fc.integer({ min: 1, max: 100 }) }), { minLength: 1, maxLength: 8 }),
        fc.double({ min: 1e-3, max: 10, noNaN: true }),
        (rows, bound) => {
          const out = normBoundedMean(
            rows.map((r) => ({ vector: Float32Array.from(r.v), weight: r.w })),
            bound,
          );
          expect(l2norm(out)).toBeLessThanOrEqual(bound * (1 + 1e-5));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses a non-positive bound and non-finite updates', () => {
    expect(() => boundUpdateNorm(Float32Array.of(1), 0)).toThrow(
      '"bound" expected positive finite number, got 0',
    );
    expect(() => normBoundedMean([{ vector: Float32Array.of(Number.NaN), weight: 1 }], 1)).toThrow(
      expect.objectContaining({ code: 'NON_FINITE' }),
    );
  });
});
