import { CodecError } from './errors.ts';
import type { Rng } from './prng.ts';
import { sampleWithoutReplacement } from './sample.ts';
import { gather, type SparseVector } from './sparse.ts';
import { expectFloat32, expectInt, fail, firstNaN } from './validate.ts';

/**
 * Top-k and random-k sparsification. Sending only the k largest-magnitude coordinates of an
 * update, with the rest carried over by error feedback, is what lets Deep Gradient Compression
 * (Lin et al., ICLR 2018) cut upload 270-600x; random-k is the unbiased, data-independent
 * baseline of Stich, Cordonnier and Jaggi ("Sparsified SGD with memory", NeurIPS 2018).
 */

/**
 * The number of coordinates to keep for a density in (0, 1]: round(density * dimension),
 * at least 1 for a non-empty vector, at most the dimension.
 */
export function kForDensity(dimension: number, density: number): number {
  expectInt('dimension', dimension, 0, 0xffffffff);
  if (typeof density !== 'number' || !(density > 0 && density <= 1)) {
    fail('density', 'number in (0, 1]', density);
  }
  if (dimension === 0) return 0;
  return Math.min(dimension, Math.max(1, Math.round(density * dimension)));
}

/**
 * The indices (sorted ascending) of the k entries of `x` largest in magnitude. Exactly k are
 * returned; among equal magnitudes the lower index wins, so the result is a function of `x`
 * alone. NaN has no magnitude and is refused.
 *
 * Cost: O(d) on average, by quickselect on a copy of the magnitudes (Hoare's FIND, 1961) with
 * a three-way partition, so the long runs of zeros a residual has do not degrade it, and a
 * fall back to sorting the remaining range after O(log d) bad pivots (introselect, Musser
 * 1997), which bounds the worst case by O(d log d). DGC estimates the threshold from a
 * sample instead; an exact k keeps the upload size known in advance.
 */
export function topKIndices(x: Float32Array, k: number): Uint32Array {
  expectFloat32('x', x);
  const d = x.length;
  expectInt('k', k, 0, d);
  const nan = firstNaN(x);
  if (nan >= 0) throw new CodecError('INVALID_ARGUMENT', `"x" expected no NaN, got NaN at index ${nan}`);
  const out = new Uint32Array(k);
  if (k === 0) return out;
  if (k === d) {
    for (let i = 0; i < d; i++) out[i] = i;
    return out;
  }
  const magnitudes = new Float32Array(d);
  for (let i = 0; i < d; i++) magnitudes[i] = Math.abs(x[i]!);
  const threshold = selectAscending(magnitudes, d - k);
  // Everything strictly above the threshold is in; the remaining places go to the entries equal
  // to it, lowest index first. One pass in index order, so the output comes out sorted.
  let above = 0;
  for (let i = 0; i < d; i++) if (Math.abs(x[i]!) > threshold) above++;
  let ties = k - above;
  let w = 0;
  for (let i = 0; i < d; i++) {
    const m = Math.abs(x[i]!);
    if (m > threshold || (m === threshold && ties-- > 0)) out[w++] = i;
  }
  return out;
}

/** The k entries of `x` largest in magnitude as a SparseVector (see `topKIndices`). */
export function topK(x: Float32Array, k: number): SparseVector {
  const indices = topKIndices(x, k);
  return { dimension: x.length, indices, values: gather(x, indices) };
}

/** k coordinates of a d-dimensional vector drawn uniformly without replacement, sorted ascending. */
export function randomKIndices(dimension: number, k: number, rng: Rng): Uint32Array {
  return sampleWithoutReplacement(dimension, k, rng);
}

/** Options for `randomK`. */
export interface RandomKOptions {
  /**
   * Multiply the kept values by d/k so that E[sparse] = x (Stich et al. 2018). Leave it off
   * under error feedback, where what is not sent is kept, not extrapolated.
   */
  readonly unbiased?: boolean;
}

/** k entries of `x` at uniformly drawn coordinates, as a SparseVector. */
export function randomK(x: Float32Array, k: number, rng: Rng, options: RandomKOptions = {}): SparseVector {
  expectFloat32('x', x);
  const indices = randomKIndices(x.length, k, rng);
  const values = gather(x, indices);
  if (options.unbiased && k > 0) {
    const factor = x.length / k;
    for (let j = 0; j < values.length; j++) values[j] = values[j]! * factor;
  }
  return { dimension: x.length, indices, values };
}

/**
 * The value that would sit at position `p` if `a` were sorted ascending. Reorders `a`.
 * No NaN may be present (the caller checks).
 */
function selectAscending(a: Float32Array, p: number): number {
  let lo = 0;
  let hi = a.length - 1;
  let budget = 2 * Math.ceil(Math.log2(a.length + 1)) + 8;
  for (;;) {
    if (hi - lo < 16 || budget-- <= 0) {
      a.subarray(lo, hi + 1).sort();
      return a[p]!;
    }
    const pivot = medianOfThree(a[lo]!, a[(lo + hi) >>> 1]!, a[hi]!);
    // Dijkstra's three-way partition: [lo, lt) < pivot, [lt, gt] == pivot, (gt, hi] > pivot.
    let lt = lo;
    let gt = hi;
    let i = lo;
    while (i <= gt) {
      const v = a[i]!;
      if (v < pivot) {
        a[i++] = a[lt]!;
        a[lt++] = v;
      } else if (v > pivot) {
        a[i] = a[gt]!;
        a[gt--] = v;
      } else {
        i++;
      }
    }
    if (p < lt) hi = lt - 1;
    else if (p > gt) lo = gt + 1;
    else return pivot;
  }
}

function medianOfThree(a: number, b: number, c: number): number {
  return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
}
