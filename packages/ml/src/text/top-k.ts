/** One entry of a ranking: an index into the probabilities and its probability. */
export interface Ranked {
  readonly index: number;
  readonly p: number;
}

/**
 * The k most probable indices, most probable first (ties: the lower index first). NaN
 * probabilities rank last.
 */
export function topK(probs: ArrayLike<number>, k: number, skip?: (index: number) => boolean): Ranked[] {
  const ranked: Ranked[] = [];
  for (let i = 0; i < probs.length; i++) {
    if (!skip?.(i)) ranked.push({ index: i, p: Number.isNaN(probs[i]!) ? -Infinity : probs[i]! });
  }
  ranked.sort((a, b) => b.p - a.p || a.index - b.index);
  return ranked.slice(0, Math.max(0, k)).map((r) => (r.p === -Infinity ? { ...r, p: Number.NaN } : r));
}
