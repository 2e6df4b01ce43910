import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodecError } from './errors.ts';
import { sfc32 } from './prng.ts';
import { kForDensity, randomK, randomKIndices, topK, topKIndices } from './topk.ts';

/** The definition, by a full sort: magnitude descending, then index ascending. */
function referenceTopK(x: Float32Array, k: number): number[] {
  return [...x.keys()]
    .sort((a, b) => Math.abs(x[b]!) - Math.abs(x[a]!) || a - b)
    .slice(0, k)
    .sort((a, b) => a - b);
}

const withK = (values: fc.Arbitrary<Float32Array>): fc.Arbitrary<[Float32Array, number]> =>
  values.chain((x) => fc.tuple(fc.constant(x), fc.integer({ min: 0, max: x.length })));

const anyFloats = fc.float32Array({ noNaN: true, maxLength: 200 });
// Small integers make ties common, which is where a selection algorithm goes wrong.
const tiedFloats = fc
  .array(fc.integer({ min: -3, max: 3 }), { maxLength: 200 })
  .map((a) => Float32Array.from(a));

describe('topKIndices', () => {
  it('keeps exactly k entries, the k largest in magnitude, ties to the lower index', () => {
    fc.assert(
      fc.property(withK(fc.oneof(anyFloats, tiedFloats)), ([x, k]) => {
        const got = topKIndices(x, k);
        expect(got.length).toBe(k);
        expect([...got]).toEqual(referenceTopK(x, k));
      }),
      { numRuns: 300 },
    );
  });

  it('agrees with the definition on large vectors full of duplicates', () => {
    const rng = sfc32(3);
    const x = Float32Array.from({ length: 20_000 }, () => Math.floor(rng() * 20) - 10);
    for (const k of [1, 200, 10_000, 19_999]) expect([...topKIndices(x, k)]).toEqual(referenceTopK(x, k));
  });

  it('is exact on inputs that defeat naive pivots', () => {
    // All equal, sorted both ways, alternating signs: a quadratic quickselect would take minutes
    // here (the test's timeout catches that); the introselect fallback keeps it O(d log d).
    const d = 1 << 18;
    const inputs = [
      new Float32Array(d),
      Float32Array.from({ length: d }, (_, i) => i),
      Float32Array.from({ length: d }, (_, i) => d - i),
      Float32Array.from({ length: d }, (_, i) => (i % 2 ? i : -i)),
    ];
    for (const x of inputs) expect([...topKIndices(x, d >> 8)]).toEqual(referenceTopK(x, d >> 8));
  });

  it('handles the ends and infinities', () => {
    const x = Float32Array.of(1, Number.NEGATIVE_INFINITY, -2, 0);
    expect([...topKIndices(x, 0)]).toEqual([]);
    expect([...topKIndices(x, 4)]).toEqual([0, 1, 2, 3]);
    expect([...topKIndices(x, 2)]).toEqual([1, 2]);
  });

  it('refuses NaN and a k out of range', () => {
    expect(() => topKIndices(Float32Array.of(1, Number.NaN), 1)).toThrow(/NaN at index 1/);
    expect(() => topKIndices(Float32Array.of(1), 2)).toThrow(CodecError);
    expect(() => topKIndices(Float32Array.of(1), -1)).toThrow(/"k" expected integer in \[0, 1\]/);
  });

  it('returns the values with the indices', () => {
    const s = topK(Float32Array.of(0.5, -3, 2, 0), 2);
    expect(s.dimension).toBe(4);
    expect([...s.indices]).toEqual([1, 2]);
    expect([...s.values]).toEqual([-3, 2]);
  });
});

describe('randomK', () => {
  it('takes k distinct coordinates with their values, reproducibly', () => {
    fc.assert(
      fc.property(withK(anyFloats), fc.nat(), ([x, k], seed) => {
        const s = randomK(x, k, sfc32(seed));
        expect(s.indices.length).toBe(k);
        for (let j = 0; j < k; j++) {
          if (j > 0) expect(s.indices[j]!).toBeGreaterThan(s.indices[j - 1]!);
          expect(s.values[j]).toBe(x[s.indices[j]!]);
        }
        expect(randomKIndices(x.length, k, sfc32(seed))).toEqual(s.indices);
      }),
      { numRuns: 100 },
    );
  });

  it('is unbiased when scaled by d/k', () => {
    const x = Float32Array.of(1, -2, 3, 0.5, 4, -1, 2, 8);
    const rng = sfc32(11);
    const mean = new Float64Array(x.length);
    const draws = 20_000;
    for (let t = 0; t < draws; t++) {
      const s = randomK(x, 2, rng, { unbiased: true });
      for (let j = 0; j < 2; j++) mean[s.indices[j]!]! += s.values[j]! / draws;
    }
    // Each coordinate is x_i * 4 with probability 1/4: std of the mean is |x_i| * sqrt(3 / draws).
    for (let i = 0; i < x.length; i++) {
      expect(Math.abs(mean[i]! - x[i]!)).toBeLessThan(5 * Math.abs(x[i]!) * Math.sqrt(3 / draws));
    }
  });
});

describe('kForDensity', () => {
  it('rounds, keeps at least one and at most d', () => {
    expect(kForDensity(1000, 0.01)).toBe(10);
    expect(kForDensity(10, 0.001)).toBe(1);
    expect(kForDensity(10, 1)).toBe(10);
    expect(kForDensity(0, 0.5)).toBe(0);
    expect(() => kForDensity(10, 0)).toThrow(/"density" expected number in \(0, 1\]/);
  });
});
