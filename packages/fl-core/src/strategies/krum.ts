import { PollenError } from '../errors.ts';
import { expectInt } from '../validate.ts';
import { checkUpdates } from './updates.ts';

// Krum and Multi-Krum (Blanchard, El Mhamdi, Guerraoui and Stainer 2017, "Machine Learning
// with Adversaries: Byzantine Tolerant Gradient Descent", NeurIPS). Each update's score is the
// sum of squared distances to its n - f - 2 nearest other updates; Krum keeps the update with
// the lowest score, Multi-Krum averages the m lowest. Needs n > 2f + 2. Cost O(n^2 * d).

/** The outcome of Krum or Multi-Krum: the aggregate and who made it in. */
export interface KrumSelection {
  /** The selected update (Krum) or the plain mean of the selected updates (Multi-Krum). */
  readonly vector: Float32Array;
  /** Indices into the input of the selected updates, best score first. */
  readonly selected: readonly number[];
  /** Every update's score, by input index. */
  readonly scores: readonly number[];
}

/** Fewest updates Krum accepts with f Byzantine clients: 2f + 3 (Blanchard et al.: n > 2f + 2). */
export function krumMinUpdates(f: number): number {
  return 2 * f + 3;
}

/**
 * Krum scores: for each update i, the sum of the n - f - 2 smallest squared L2 distances from
 * i to the other updates (Blanchard et al. 2017). Distances in double precision.
 */
export function krumScores(updates: readonly Float32Array[], f: number): number[] {
  checkKrumCount(updates.length, f);
  const d = checkUpdates(updates);
  const n = updates.length;
  const dist = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    const ua = updates[a]!;
    for (let b = a + 1; b < n; b++) {
      const ub = updates[b]!;
      let s = 0;
      for (let i = 0; i < d; i++) {
        const diff = ua[i]! - ub[i]!;
        s += diff * diff;
      }
      dist[a * n + b] = s;
      dist[b * n + a] = s;
    }
  }
  const neighbours = n - f - 2;
  const row = new Float64Array(n - 1);
  const scores: number[] = [];
  for (let a = 0; a < n; a++) {
    let j = 0;
    for (let b = 0; b < n; b++) if (b !== a) row[j++] = dist[a * n + b]!;
    row.sort();
    let s = 0;
    for (let k = 0; k < neighbours; k++) s += row[k]!;
    scores.push(s);
  }
  return scores;
}

function checkKrumCount(n: number, f: number): void {
  expectInt('f', f, 0, Number.MAX_SAFE_INTEGER);
  if (n < krumMinUpdates(f)) {
    throw new PollenError(
      'INVALID_ARGUMENT',
      `Krum with f = ${f} needs at least ${krumMinUpdates(f)} updates (n > 2f + 2), got ${n}`,
    );
  }
}

function select(updates: readonly Float32Array[], f: number, m: number): KrumSelection {
  const scores = krumScores(updates, f);
  // Ties go to the lower index, so the choice is deterministic.
  const order = scores.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]! || a - b);
  const selected = order.slice(0, m);
  const d = updates[0]!.length;
  const acc = new Float64Array(d);
  for (const k of selected) {
    const u = updates[k]!;
    for (let i = 0; i < d; i++) acc[i] = acc[i]! + u[i]!;
  }
  const vector = new Float32Array(d);
  for (let i = 0; i < d; i++) vector[i] = acc[i]! / m;
  return { vector, selected, scores };
}

/** Krum: the single update with the lowest score, tolerating f Byzantine updates out of n > 2f + 2. */
export function krum(updates: readonly Float32Array[], f: number): KrumSelection {
  return select(updates, f, 1);
}

/**
 * Multi-Krum: the plain mean of the m updates with the lowest Krum scores (Blanchard et al.
 * 2017), m in [1, n - f], by default n - f. m = 1 is Krum.
 */
export function multiKrum(updates: readonly Float32Array[], f: number, m?: number): KrumSelection {
  const n = updates.length;
  checkKrumCount(n, f);
  return select(updates, f, m === undefined ? n - f : expectInt('m', m, 1, n - f));
}
