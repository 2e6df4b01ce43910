import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { accumulateSparse } from './accumulate.ts';
import { sparseToDense } from './sparse.ts';
import { topK } from './topk.ts';

describe('accumulateSparse', () => {
  it('adds weight * update at the update coordinates only, like a dense weighted sum', () => {
    const setup = fc.integer({ min: 1, max: 100 }).chain((d) =>
      fc.array(
        fc.tuple(
          fc.float32Array({
            noNaN: true,
            noDefaultInfinity: true,
            min: -1e3,
            max: 1e3,
            minLength: d,
            maxLength: d,
          }),
          fc.integer({ min: 0, max: d }),
          fc.double({ min: 0, max: 10, noNaN: true }),
        ),
        { minLength: 1, maxLength: 8 },
      ),
    );
    fc.assert(
      fc.property(setup, (updates) => {
        const d = updates[0]![0].length;
        const sum = new Float64Array(d);
        const expected = new Float64Array(d);
        for (const [x, k, weight] of updates) {
          const sparse = topK(x, k);
          accumulateSparse(sum, sparse, weight);
          const dense = sparseToDense(sparse);
          for (let i = 0; i < d; i++) expected[i]! += weight * dense[i]!;
        }
        for (let i = 0; i < d; i++) expect(sum[i]).toBeCloseTo(expected[i]!, 6);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses a bad update without touching the sum', () => {
    const sum = Float64Array.of(1, 2, 3);
    const bad = { dimension: 3, indices: Uint32Array.of(0, 7), values: Float32Array.of(1, 1) };
    expect(() => accumulateSparse(sum, bad)).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    expect(() => accumulateSparse(sum, { ...bad, dimension: 4 })).toThrow(/"update.dimension" expected 3/);
    expect(() => accumulateSparse(sum, { ...bad, indices: Uint32Array.of(0, 1) }, Number.NaN)).toThrow(
      /"weight"/,
    );
    expect([...sum]).toEqual([1, 2, 3]);
  });
});
