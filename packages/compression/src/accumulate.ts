import type { SparseVector } from './sparse.ts';
import { fail } from './validate.ts';

/**
 * Server-side aggregation of sparse updates in O(k) each: a round's sum lives in one
 * Float64Array of the model's dimension (float64 so adding thousands of float32 updates does
 * not lose their low bits), and each update touches only its own k coordinates. The caller
 * divides by the total weight, or hands the sum to its strategy, once the round closes.
 */

/**
 * sum[indices[j]] += weight * values[j] for every j. Mutates `sum` (it is the accumulator)
 * and nothing else. Refuses, before adding anything, an update of another dimension, with
 * mismatched lengths or an index out of range, and a weight that is not finite.
 */
export function accumulateSparse(sum: Float64Array, update: SparseVector, weight = 1): void {
  if (!(sum instanceof Float64Array)) fail('sum', 'Float64Array', sum);
  if (update.dimension !== sum.length) {
    fail('update.dimension', `${sum.length}`, update.dimension, 'SHAPE_MISMATCH');
  }
  if (typeof weight !== 'number' || !Number.isFinite(weight)) fail('weight', 'finite number', weight);
  const { indices, values } = update;
  if (values.length !== indices.length) {
    fail('update.values', `length ${indices.length}`, values.length, 'SHAPE_MISMATCH');
  }
  // One O(k) pass to check before the O(k) pass that adds, so a bad update leaves the sum alone.
  for (let j = 0; j < indices.length; j++) {
    if (indices[j]! >= sum.length) {
      fail(`update.indices[${j}]`, `index below ${sum.length}`, indices[j], 'SHAPE_MISMATCH');
    }
  }
  for (let j = 0; j < indices.length; j++) sum[indices[j]!]! += weight * values[j]!;
}
