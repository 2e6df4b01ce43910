import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { trimmedMean } from './trimmed-mean.ts';

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

describe('trimmedMean (Yin et al. 2018)', () => {
  it('drops floor(beta n) from each end per coordinate (known answer)', () => {
    const rows = [1, 2, 3, 100, -50].map((v, k) => Float32Array.of(v, k));
    // beta 0.2, n 5: drop 1 per end; coord 0 keeps 1, 2, 3; coord 1 keeps 1, 2, 3.
    expect(Array.from(trimmedMean(rows, 0.2))).toEqual([2, 2]);
    // beta 0.19: floor(0.95) = 0, the plain mean.
    expect(Array.from(trimmedMean(rows, 0.19))).toEqual([Math.fround(56 / 5), 2]);
    expect(Array.from(trimmedMean(rows, 0))).toEqual([Math.fround(56 / 5), 2]);
    // beta 0.49, n 5: floor(2.45) = 2 per end, only the median is left.
    expect(Array.from(trimmedMean(rows, 0.49))).toEqual([2, 2]);
  });

  it('is permutation invariant', () => {
    fc.assert(
      fc.property(
        batchAndPermutation,
        fc.double({ min: 0, max: 0.49, noNaN: true }),
        ([rows, perm], beta) => {
          const vectors = rows.map((r) => Float32Array.from(r));
          const permuted = perm.map((i) => vectors[i]!);
          expect(Array.from(trimmedMean(permuted, beta))).toEqual(Array.from(trimmedMean(vectors, beta)));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('stays within the honest range when the attackers are at most floor(beta n)', () => {
    fc.assert(
      fc.property(batchAndPermutation, ([rows]) => {
        const honest = rows.map((r) => Float32Array.from(r));
        const beta = 0.3;
        // Largest f with f <= floor(beta * (n_honest + f)).
        let f = 0;
        while (f + 1 <= Math.floor(beta * (honest.length + f + 1))) f++;
        const attackers = Array.from({ length: f }, () => new Float32Array(honest[0]!.length).fill(1e30));
        const out = trimmedMean([...honest, ...attackers], beta);
        out.forEach((v, i) => {
          const column = honest.map((h) => h[i]!);
          expect(v).toBeGreaterThanOrEqual(Math.min(...column) - 1e-3);
          expect(v).toBeLessThanOrEqual(Math.max(...column) + 1e-3);
        });
      }),
      { numRuns: 100 },
    );
  });

  it('refuses beta outside [0, 0.5)', () => {
    const rows = [Float32Array.of(1)];
    expect(() => trimmedMean(rows, 0.5)).toThrow('"beta" expected finite number in [0, 0.5), got 0.5');
    expect(() => trimmedMean(rows, -0.1)).toThrow(/"beta"/);
    expect(() => trimmedMean(rows, Number.NaN)).toThrow(/"beta"/);
  });
});
