import { PollenError } from '../errors.ts';
import { expectInHalfOpen } from './expect.ts';
import { checkUpdates } from './updates.ts';

/**
 * Coordinate-wise trimmed mean (Yin, Chen, Ramchandran and Bartlett 2018, "Byzantine-Robust
 * Distributed Learning: Towards Optimal Statistical Rates", ICML): for each
 * coordinate drop the floor(beta * n) largest and the floor(beta * n) smallest values across
 * clients and average the rest. beta in [0, 0.5) should exceed the fraction of Byzantine
 * clients; beta = 0 is the plain mean. Unweighted, like the median, because example counts are
 * self-reported. Cost O(d * n log n).
 */
export function trimmedMean(updates: readonly Float32Array[], beta: number): Float32Array {
  expectInHalfOpen('beta', beta, 0, 0.5);
  const d = checkUpdates(updates);
  const n = updates.length;
  const trim = Math.floor(beta * n);
  // beta < 0.5 leaves at least one value; guard anyway against a rounding surprise.
  if (n - 2 * trim < 1) throw new PollenError('INVALID_ARGUMENT', `trimmed mean of ${n} updates keeps none`);
  const kept = n - 2 * trim;
  const column = new Float64Array(n);
  const out = new Float32Array(d);
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < n; k++) column[k] = updates[k]![i]!;
    // Sorted even when nothing is trimmed: a fixed summation order makes the result exactly
    // independent of the order the updates arrived in.
    column.sort();
    let s = 0;
    for (let k = trim; k < n - trim; k++) s += column[k]!;
    out[i] = s / kept;
  }
  return out;
}
