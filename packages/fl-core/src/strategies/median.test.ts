import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { coordinateMedian } from './median.ts';

const f32 = fc.float({ min: -1000, max: 1000, noNaN: true, noDefaultInfinity: true });

/** n vectors of dimension d and a permutation of their order. */
const batchAndPermutation = fc
  .tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 6 }))
  .chain(([n, d]) =>
    fc.tuple(
      fc.array(fc.array(f32, { minLength: d, maxLength: d }), { minLength: n, maxLength: n }),
      fc.shuffledSubarray(
        Array.from({ length: n }, (_, i) => i),
        { minLength: n, maxLength: n },
      ),
    ),
  );

describe('coordinateMedian (Yin et al. 2018)', () => {
  it('takes each coordinate median, averaging the middle pair for even n (known answer)', () => {
    const odd = [Float32Array.of(1, 10), Float32Array.of(3, -5), Float32Array.of(2, 1000)];
    expect(Array.from(coordinateMedian(odd))).toEqual([2, 10]);
    const even = [...odd, Float32Array.of(-100, 0)];
    expect(Array.from(coordinateMedian(even))).toEqual([1.5, 5]);
    expect(Array.from(coordinateMedian([Float32Array.of(7)]))).toEqual([7]);
  });

  it('is permutation invariant', () => {
    fc.assert(
      fc.property(batchAndPermutation, ([rows, perm]) => {
        const vectors = rows.map((r) => Float32Array.from(r));
        const permuted = perm.map((i) => vectors[i]!);
        expect(Array.from(coordinateMedian(permuted))).toEqual(Array.from(coordinateMedian(vectors)));
      }),
      { numRuns: 200 },
    );
  });

  it('stays within the honest range when fewer than half the updates are arbitrary', () => {
    fc.assert(
      fc.property(
        batchAndPermutation,
        fc.float({ min: 1e5, max: Math.fround(1e30), noNaN: true }),
        ([rows], big) => {
          const honest = rows.map((r) => Float32Array.from(r));
          const byzantine = Math.ceil(honest.length / 2) - 1;
          const attackers = Array.from({ length: byzantine }, (_, k) =>
            new Float32Array(honest[0]!.length).fill(k % 2 === 0 ? big : -big),
          );
          const out = coordinateMedian([...attackers, ...honest]);
          out.forEach((v, i) => {
            const column = honest.map((h) => h[i]!);
            expect(v).toBeGreaterThanOrEqual(Math.min(...column));
            expect(v).toBeLessThanOrEqual(Math.max(...column));
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses an empty batch, ragged vectors and non-finite values', () => {
    expect(() => coordinateMedian([])).toThrow(/at least one vector/);
    expect(() => coordinateMedian([new Float32Array(2), new Float32Array(3)])).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH' }),
    );
    expect(() => coordinateMedian([Float32Array.of(Number.NaN)])).toThrow(
      expect.objectContaining({ code: 'NON_FINITE' }),
    );
  });
});
