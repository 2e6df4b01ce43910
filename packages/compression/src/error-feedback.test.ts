import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  absorbEncodingError,
  compensate,
  errorFeedback,
  errorFeedbackTopK,
  splitAt,
} from './error-feedback.ts';
import { sfc32 } from './prng.ts';
import { dequantize, quantize } from './quantize.ts';
import { sparseToDense } from './sparse.ts';
import { randomKIndices } from './topk.ts';

const finite = { noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 } as const;
/** An update, a previous residual of the same length (or none) and a k. */
const step = fc
  .integer({ min: 0, max: 120 })
  .chain((d) =>
    fc.tuple(
      fc.float32Array({ ...finite, minLength: d, maxLength: d }),
      fc.option(fc.float32Array({ ...finite, minLength: d, maxLength: d }), { nil: undefined }),
      fc.integer({ min: 0, max: d }),
    ),
  );

describe('error feedback', () => {
  it('conserves mass exactly: sent + residual = fround(update + previous residual)', () => {
    fc.assert(
      fc.property(step, ([update, previous, k]) => {
        const { sent, residual } = errorFeedbackTopK(update, previous, k);
        expect(sent.indices.length).toBe(k);
        const dense = sparseToDense(sent);
        for (let i = 0; i < update.length; i++) {
          const input = Math.fround(update[i]! + (previous?.[i] ?? 0));
          // Equal as numbers: -0 and +0 are the same mass (toBe's Object.is would tell them apart).
          expect(dense[i]! + residual[i]! === input, `${dense[i]} + ${residual[i]} vs ${input}`).toBe(true);
          // Each coordinate goes to exactly one side.
          expect(dense[i] === 0 || residual[i] === 0).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('sends everything eventually: over many rounds sent + last residual = sum of updates', () => {
    const rng = sfc32(5);
    const d = 500;
    let residual: Float32Array | undefined;
    const sentTotal = new Float64Array(d);
    const updateTotal = new Float64Array(d);
    for (let round = 0; round < 50; round++) {
      const update = Float32Array.from({ length: d }, () => rng() - 0.5);
      for (let i = 0; i < d; i++) updateTotal[i]! += update[i]!;
      const out = errorFeedbackTopK(update, residual, 10);
      for (let j = 0; j < 10; j++) sentTotal[out.sent.indices[j]!]! += out.sent.values[j]!;
      residual = out.residual;
    }
    for (let i = 0; i < d; i++) expect(sentTotal[i]! + residual![i]!).toBeCloseTo(updateTotal[i]!, 4);
  });

  it('works with any selector, random-k included', () => {
    const update = Float32Array.of(1, 2, 3, 4, 5, 6);
    const out = errorFeedback(update, undefined, (c) => randomKIndices(c.length, 2, sfc32(9)));
    expect(out.sent.indices.length).toBe(2);
    const dense = sparseToDense(out.sent);
    for (let i = 0; i < 6; i++) expect(dense[i]! + out.residual[i]!).toBe(update[i]);
  });

  it('leaves its inputs alone and refuses mismatched shapes', () => {
    const update = Float32Array.of(1, -5, 2);
    const previous = Float32Array.of(0.5, 0.5, 0.5);
    errorFeedbackTopK(update, previous, 1);
    expect([...update]).toEqual([1, -5, 2]);
    expect([...previous]).toEqual([0.5, 0.5, 0.5]);
    expect(() => compensate(update, new Float32Array(2))).toThrow(/"residual" expected length 3/);
    expect(() => splitAt(update, Uint32Array.of(2, 1))).toThrow(/strictly increasing/);
  });

  it('folds quantization error back into the residual', () => {
    const rng = sfc32(1);
    const update = Float32Array.from({ length: 100 }, () => rng() * 2 - 1);
    const { sent, residual } = errorFeedbackTopK(update, undefined, 20);
    const received = dequantize(quantize(sent.values, 2, rng));
    const kept = absorbEncodingError(residual, sent, received);
    const dense = sparseToDense({ ...sent, values: received });
    for (let i = 0; i < 100; i++) expect(dense[i]! + kept[i]!).toBeCloseTo(update[i]!, 6);
  });
});
