import type { SparseVector } from './sparse.ts';
import { topKIndices } from './topk.ts';
import { expectFloat32, expectSortedIndices, fail } from './validate.ts';

/**
 * Error feedback (error accumulation, a.k.a. memory): what a compressor leaves out of an
 * update is kept on the device and added to the next one, so every coordinate is eventually
 * sent and the compressed updates sum to the uncompressed ones up to the last residual.
 * Without it top-k at 0.1% density loses accuracy; with it DGC (Lin et al. 2018) and
 * Stich et al. (2018) match dense training, and Karimireddy et al. ("Error feedback fixes
 * SignSGD", ICML 2019) show it repairs biased compressors in general.
 *
 * Everything here is pure: the residual comes in and a new one goes out; the client stores
 * it (IndexedDB) between rounds. Mass is conserved exactly in float32:
 * for every i, sent[i] + residual'[i] === fround(update[i] + residual[i]), because each
 * coordinate of the corrected update goes, unchanged, to exactly one of the two.
 */

/** What one error-feedback step sends and what it keeps for the next round. */
export interface ErrorFeedbackStep {
  /** The coordinates to upload, taken unchanged from the corrected update. */
  readonly sent: SparseVector;
  /** The corrected update with the sent coordinates zeroed: store it for the next round. */
  readonly residual: Float32Array;
}

/**
 * The corrected update fround(update + residual), a new array. No residual (the first round,
 * or after the client lost its storage) counts as zeros.
 */
export function compensate(update: Float32Array, residual?: Float32Array): Float32Array {
  expectFloat32('update', update);
  const out = new Float32Array(update);
  if (residual === undefined) return out;
  expectFloat32('residual', residual, update.length);
  for (let i = 0; i < out.length; i++) out[i] = out[i]! + residual[i]!;
  return out;
}

/**
 * Split a corrected update at `indices` (strictly increasing): their values are sent, and
 * the rest, with zeros where values were sent, is the new residual. Does not modify `corrected`.
 */
export function splitAt(corrected: Float32Array, indices: Uint32Array): ErrorFeedbackStep {
  expectFloat32('corrected', corrected);
  expectSortedIndices('indices', indices, corrected.length);
  const residual = new Float32Array(corrected);
  const values = new Float32Array(indices.length);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j]!;
    values[j] = residual[i]!;
    residual[i] = 0;
  }
  return { sent: { dimension: corrected.length, indices, values }, residual };
}

/**
 * One error-feedback step with any coordinate selector: corrected = update + residual, then
 * `select(corrected)` (strictly increasing indices: top-k, random-k, a shared set) is sent
 * and the rest kept.
 */
export function errorFeedback(
  update: Float32Array,
  residual: Float32Array | undefined,
  select: (corrected: Float32Array) => Uint32Array,
): ErrorFeedbackStep {
  const corrected = compensate(update, residual);
  return splitAt(corrected, select(corrected));
}

/** Error feedback with top-k selection (DGC without its momentum terms, which act on SGD steps). */
export function errorFeedbackTopK(
  update: Float32Array,
  residual: Float32Array | undefined,
  k: number,
): ErrorFeedbackStep {
  return errorFeedback(update, residual, (corrected) => topKIndices(corrected, k));
}

/**
 * Fold the error of a lossy encoding of the sent values (quantization, float16) back into the
 * residual: residual'[indices[j]] += sent.values[j] - reconstructed[j], so what the server
 * receives plus what is kept still equals the corrected update, now up to float32 rounding of
 * each difference rather than exactly. Returns a new residual.
 */
export function absorbEncodingError(
  residual: Float32Array,
  sent: SparseVector,
  reconstructed: Float32Array,
): Float32Array {
  expectFloat32('residual', residual, sent.dimension);
  expectFloat32('reconstructed', reconstructed, sent.values.length);
  if (sent.indices.length !== sent.values.length) {
    fail('sent.values', `length ${sent.indices.length}`, sent.values.length, 'SHAPE_MISMATCH');
  }
  const out = new Float32Array(residual);
  for (let j = 0; j < sent.indices.length; j++) {
    const i = sent.indices[j]!;
    if (i >= out.length) fail(`sent.indices[${j}]`, `index below ${out.length}`, i, 'SHAPE_MISMATCH');
    out[i] = out[i]! + (sent.values[j]! - reconstructed[j]!);
  }
  return out;
}
