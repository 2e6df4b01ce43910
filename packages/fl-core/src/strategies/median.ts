import { checkUpdates } from './updates.ts';

/**
 * Coordinate-wise median of client updates (Yin, Chen, Ramchandran and Bartlett 2018,
 * "Byzantine-Robust Distributed Learning: Towards Optimal Statistical Rates", ICML): each
 * coordinate of the result is the median of that coordinate across clients, the mean of the
 * two middle values when their number is even. Tolerates any minority of arbitrary updates
 * per coordinate. Unweighted on purpose: example counts are self-reported, and a Byzantine
 * client could claim a huge one. Cost O(d * n log n).
 */
export function coordinateMedian(updates: readonly Float32Array[]): Float32Array {
  const d = checkUpdates(updates);
  const n = updates.length;
  const column = new Float64Array(n);
  const out = new Float32Array(d);
  const mid = n >> 1;
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < n; k++) column[k] = updates[k]![i]!;
    column.sort();
    out[i] = n % 2 === 1 ? column[mid]! : (column[mid - 1]! + column[mid]!) / 2;
  }
  return out;
}
