import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodecError } from './errors.ts';
import {
  decodeFixedPointSum,
  encodeFixedPoint,
  maxFixedPointSummands,
  resolveFixedPoint,
} from './fixed-point.ts';
import { sfc32 } from './prng.ts';

/** Element-wise sum mod 2^32, which is all secure aggregation lets the server compute. */
function sumMod32(vectors: Uint32Array[]): Uint32Array {
  const out = new Uint32Array(vectors[0]!.length);
  for (const v of vectors) for (let i = 0; i < v.length; i++) out[i] = (out[i]! + v[i]!) >>> 0;
  return out;
}

describe('fixed-point encoding', () => {
  it('stores negatives in two complement and clips to the range', () => {
    const enc = encodeFixedPoint(Float32Array.of(0.5, -0.5, 3, -3, 0.25), { range: 1, scale: 4 });
    expect([...enc]).toEqual([2, 2 ** 32 - 2, 4, 2 ** 32 - 4, 1]);
  });

  it('derives the scale from bits so the range end uses them all and no more', () => {
    expect(resolveFixedPoint({ range: 1, bits: 8 })).toEqual({ range: 1, scale: 127, maxInt: 127 });
    fc.assert(
      fc.property(
        fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
        fc.integer({ min: 2, max: 31 }),
        (range, bits) => {
          // Exact while the target fits a float32 mantissa; within float32 rounding above that.
          const target = 2 ** (bits - 1) - 1;
          const { maxInt } = resolveFixedPoint({ range, bits });
          if (bits <= 24) expect(maxInt).toBe(target);
          expect(maxInt).toBeLessThanOrEqual(target);
          expect(maxInt).toBeGreaterThanOrEqual(target * (1 - 2 ** -22));
        },
      ),
      { numRuns: 200 },
    );
    expect([...encodeFixedPoint(Float32Array.of(-1, 1), { range: 1, bits: 8 })]).toEqual([
      2 ** 32 - 127,
      127,
    ]);
  });

  it('decodes a wrapped-around sum of n clients to within n half-units', () => {
    const setup = fc.integer({ min: 1, max: 40 }).chain((d) =>
      fc.tuple(
        fc.array(fc.float32Array({ noNaN: true, minLength: d, maxLength: d }), {
          minLength: 1,
          maxLength: 20,
        }),
        fc.double({ min: 0.01, max: 100, noNaN: true }),
        fc.integer({ min: 4, max: 20 }),
      ),
    );
    fc.assert(
      fc.property(setup, ([xs, range, bits]) => {
        const options = { range, bits };
        const { range: r, scale } = resolveFixedPoint(options);
        const n = xs.length;
        const sum = decodeFixedPointSum(sumMod32(xs.map((x) => encodeFixedPoint(x, options))), options, n);
        for (let i = 0; i < sum.length; i++) {
          let exact = 0;
          for (const x of xs) exact += Math.min(r, Math.max(-r, x[i]!));
          expect(Math.abs(sum[i]! - exact)).toBeLessThanOrEqual(n / (2 * scale) + Math.abs(exact) * 2 ** -23);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('decodes sums that wrap past 2^32 in either direction', () => {
    const options = { range: 1, bits: 24 };
    const n = maxFixedPointSummands(options);
    expect(n).toBe(256);
    const all = (v: number): Uint32Array[] =>
      Array.from({ length: n }, () => encodeFixedPoint(Float32Array.of(v), options));
    expect(decodeFixedPointSum(sumMod32(all(-1)), options, n)[0]).toBeCloseTo(-256, 3);
    expect(decodeFixedPointSum(sumMod32(all(1)), options, n)[0]).toBeCloseTo(256, 3);
    expect(() => decodeFixedPointSum(sumMod32(all(1)), options, n + 1)).toThrow(
      /"count" expected integer in \[1, 256\]/,
    );
  });

  it('rounds stochastically without bias when given an Rng', () => {
    const rng = sfc32(4);
    const options = { range: 1, scale: 10, rng };
    const x = Float32Array.of(0.03, -0.07, 0.55);
    const draws = 20_000;
    const total = new Float64Array(3);
    for (let t = 0; t < draws; t++) {
      const v = encodeFixedPoint(x, options);
      for (let i = 0; i < 3; i++) total[i]! += (v[i]! | 0) / 10;
    }
    // Each draw is off by at most 0.1, std <= 0.05: the mean's std is 0.05 / sqrt(draws).
    for (let i = 0; i < 3; i++)
      expect(Math.abs(total[i]! / draws - x[i]!)).toBeLessThan(6 * (0.05 / Math.sqrt(draws)));
  });

  it('refuses bad options and NaN', () => {
    const bad = [
      { range: 0, scale: 1 },
      { range: 1 },
      { range: 1, scale: 1, bits: 8 },
      { range: 1, bits: 32 },
      { range: 2 ** 20, scale: 2 ** 12 },
    ];
    for (const options of bad) expect(() => resolveFixedPoint(options)).toThrow(CodecError);
    expect(() => encodeFixedPoint(Float32Array.of(Number.NaN), { range: 1, bits: 8 })).toThrow(/"x\[0\]"/);
  });
});
