import { PollenError } from '../errors.ts';
import { expectInt, expectNonNegative } from '../validate.ts';
import type { PrivacySpent, RdpConversion } from './accountant.ts';
import { DEFAULT_ORDERS, rdpToEpsilon } from './accountant.ts';

/**
 * Privacy accounting for DP-FTRL with tree aggregation (Kairouz, McMahan, Song, Thakkar,
 * Thakurta and Xu, "Practical and Private (Deep) Learning without Sampling or Shuffling",
 * ICML 2021, Appendix D), the same quantities as TensorFlow Privacy's
 * `tree_aggregation_accountant`, derived and written anew here.
 *
 * The mechanism releases every complete node of a binary tree over the rounds of one tree
 * (between two restarts): the sum of the clipped updates of the node's rounds plus
 * N(0, (zC)^2 I). One client's updates (each of norm at most C) move a node by at most
 * C times the number of its rounds in that node, so the whole release is a Gaussian
 * mechanism of squared L2 sensitivity C^2 * S, S = sum over nodes of count(node)^2,
 * maximized over the participation patterns the coordinator allows. Its zero-concentrated
 * DP is rho = S / (2 z^2) (Bun and Steinke 2016, Proposition 1.6), Renyi DP at order alpha
 * is alpha * rho, and trees separated by restarts compose by adding rho.
 */

/** A client's rounds within one tree, as the coordinator allows them. */
export interface TreeParticipation {
  /** Rounds (tree leaves) in the tree. */
  readonly steps: number;
  /**
   * b >= 1: two rounds x < y of the same client satisfy y - x >= b (b = 1: any rounds).
   * TensorFlow Privacy's `min_separation` is b - 1 (the rounds in between).
   */
  readonly minSeparation: number;
  /** At most this many of the tree's rounds; default ceil(steps / b), all the separation allows. */
  readonly maxParticipations?: number;
}

/** DP-FTRL over several trees: one per restart, same noise and separation throughout. */
export interface TreeRun {
  /** z: each node's noise std divided by the clip norm C. */
  readonly noiseMultiplier: number;
  /** Rounds in each tree, in order (one entry without restarts). */
  readonly segments: readonly number[];
  readonly minSeparation: number;
  /** Per tree; default all that the separation allows. */
  readonly maxParticipations?: number;
}

const NONE = Number.NEGATIVE_INFINITY;

/**
 * A block of consecutive leaves: best[j][a][e] is the largest sum of count^2 over the block's
 * complete nodes with exactly j participations, the first at least a leaves after the block's
 * start and the last at least e leaves before its end (a, e in [0, g], g = b - 1); NONE when
 * no pattern fits. Flattened: index (j * w + a) * w + e, w = g + 1.
 */
interface Block {
  readonly length: number;
  readonly maxJ: number;
  readonly best: Float64Array;
}

function emptyBlock(length: number, maxJ: number, w: number): Block {
  const best = new Float64Array((maxJ + 1) * w * w).fill(NONE);
  // No participation fits any boundary requirement and adds nothing.
  for (let i = 0; i < w * w; i++) best[i] = 0;
  return { length, maxJ, best };
}

/**
 * Join two adjacent blocks; `root` adds count^2 of a node spanning both (a subtree) or not
 * (the forest of a tree whose length is not a power of two). The gap between the left's last
 * participation and the right's first is e1 + a2 + 1, which must be at least b: since the
 * values only fall as a requirement grows, e1 + a2 = g exactly is the best split.
 */
function join(left: Block, right: Block, w: number, cap: number, root: boolean): Block {
  const g = w - 1;
  const length = left.length + right.length;
  const maxJ = Math.min(cap, left.maxJ + right.maxJ);
  const out = emptyBlock(length, maxJ, w);
  const L = left.best;
  const R = right.best;
  const at = (j: number, a: number, e: number): number => (j * w + a) * w + e;
  // The left block's value only falls as e1 grows and the right's only rises, so within a run
  // of equal left values the run's last e1 is best: only those ends need trying. They are few
  // (the value changes when the last participation must move to another subtree).
  const ends: number[][] = [];
  for (let j1 = 0; j1 <= left.maxJ; j1++) {
    for (let a = 0; a < w; a++) {
      const list: number[] = [];
      for (let e1 = 0; e1 <= g; e1++) {
        const l = L[at(j1, a, e1)]!;
        if (l !== NONE && (e1 === g || L[at(j1, a, e1 + 1)]! < l)) list.push(e1);
      }
      ends[j1 * w + a] = list;
    }
  }
  for (let j = 1; j <= maxJ; j++) {
    const extra = root ? j * j : 0;
    const lo = Math.max(1, j - right.maxJ);
    const hi = Math.min(left.maxJ, j - 1);
    for (let a = 0; a < w; a++) {
      for (let e = 0; e < w; e++) {
        let best = NONE;
        // All in the left block: its end must keep what the right block does not cover.
        if (j <= left.maxJ) best = L[at(j, a, Math.max(0, e - right.length))]!;
        // All in the right block.
        if (j <= right.maxJ) best = Math.max(best, R[at(j, Math.max(0, a - left.length), e)]!);
        for (let j1 = lo; j1 <= hi; j1++) {
          const j2 = j - j1;
          for (const e1 of ends[j1 * w + a]!) {
            const r = R[at(j2, g - e1, e)]!;
            if (r === NONE) continue;
            const sum = L[at(j1, a, e1)]! + r;
            if (sum > best) best = sum;
          }
        }
        out.best[at(j, a, e)] = best === NONE ? NONE : best + extra;
      }
    }
  }
  return out;
}

/** One leaf: a participation there counts 1 in the leaf's own node, and needs a = e = 0. */
function leaf(w: number, cap: number): Block {
  const out = emptyBlock(1, Math.min(1, cap), w);
  if (cap >= 1) out.best[(1 * w + 0) * w + 0] = 1;
  return out;
}

// Complete subtrees by height, per (w, cap): the same for every tree length.
const subtreeCache = new Map<string, Block[]>();

function subtree(height: number, w: number, cap: number): Block {
  const key = `${w}:${cap}`;
  let list = subtreeCache.get(key);
  if (!list) {
    if (subtreeCache.size > 32) subtreeCache.clear();
    list = [leaf(w, cap)];
    subtreeCache.set(key, list);
  }
  while (list.length <= height) {
    const below = list[list.length - 1]!;
    list.push(join(below, below, w, cap, true));
  }
  return list[height]!;
}

// A ledger asks for the same tree lengths every round.
const sensitivityCache = new Map<string, number>();

/**
 * The largest sum of squared per-node sensitivities (in units of C^2) one client can cause
 * in a tree of `steps` rounds: S above, maximized exactly by dynamic programming over the
 * tree's complete subtrees (the binary digits of `steps`, largest first) with the distance
 * of the first and last participation from each block's ends as state. Cost grows as
 * k^2 b^3 log(steps) for k participations: meant for trees of up to a few thousand rounds.
 *
 * @example treeSensitivitySquared({ steps: 8, minSeparation: 8 }) // 4: a leaf and its 3 ancestors
 */
export function treeSensitivitySquared(p: TreeParticipation): number {
  const steps = expectInt('steps', p.steps, 0, 1_000_000);
  const b = expectInt('minSeparation', p.minSeparation, 1, 1_000_000);
  const allowed = Math.ceil(steps / b);
  const cap =
    p.maxParticipations === undefined
      ? allowed
      : Math.min(allowed, expectInt('maxParticipations', p.maxParticipations, 0, 1_000_000));
  if (steps === 0 || cap === 0) return 0;
  const key = `${steps}:${b}:${cap}`;
  const known = sensitivityCache.get(key);
  if (known !== undefined) return known;
  // With one participation at most, where it sits next to a block's ends never matters.
  const w = cap <= 1 ? 1 : b;
  let forest: Block | null = null;
  for (let h = Math.floor(Math.log2(steps)); h >= 0; h--) {
    if ((steps & (2 ** h)) === 0) continue;
    const tree = subtree(h, w, cap);
    forest = forest ? join(forest, tree, w, cap, false) : tree;
  }
  let best = 0;
  for (let j = 1; j <= forest!.maxJ; j++) best = Math.max(best, forest!.best[j * w * w]!);
  if (sensitivityCache.size > 4096) sensitivityCache.clear();
  sensitivityCache.set(key, best);
  return best;
}

function validateRun(run: TreeRun): number {
  const z = expectNonNegative('noiseMultiplier', run.noiseMultiplier);
  if (!Array.isArray(run.segments)) {
    throw new PollenError('INVALID_ARGUMENT', '"segments" expected an array of round counts');
  }
  return z;
}

/**
 * rho of zero-concentrated DP spent by a DP-FTRL run: sum over its trees of S / (2 z^2).
 * Infinity when z = 0 and some tree has a round.
 */
export function treeRho(run: TreeRun): number {
  const z = validateRun(run);
  let total = 0;
  run.segments.forEach((steps, i) => {
    const s = treeSensitivitySquared({
      steps: expectInt(`segments[${i}]`, steps, 0, 1_000_000),
      minSeparation: run.minSeparation,
      ...(run.maxParticipations === undefined ? {} : { maxParticipations: run.maxParticipations }),
    });
    total += s === 0 ? 0 : z === 0 ? Number.POSITIVE_INFINITY : s / (2 * z * z);
  });
  return total;
}

/** Renyi DP at each order of a rho-zCDP mechanism: alpha * rho (Bun and Steinke 2016). */
export function zcdpToRdp(rho: number, orders: readonly number[] = DEFAULT_ORDERS): number[] {
  if (!(rho >= 0))
    throw new PollenError('INVALID_ARGUMENT', `"rho" expected non-negative number, got ${rho}`);
  return orders.map((alpha) => alpha * rho);
}

/**
 * (epsilon, delta) of rho-zCDP by Bun and Steinke's closed form, rho + 2 sqrt(rho log(1/delta))
 * ("Concentrated Differential Privacy", TCC 2016, Proposition 1.3). Looser than converting
 * the Renyi curve ({@link treeEpsilon}); kept because published DP-FTRL figures use it.
 */
export function zcdpToEpsilon(rho: number, delta: number): number {
  if (typeof delta !== 'number' || !(delta > 0 && delta < 1)) {
    throw new PollenError(
      'INVALID_ARGUMENT',
      `"delta" expected finite number in (0, 1), got ${String(delta)}`,
    );
  }
  if (rho === Number.POSITIVE_INFINITY) return rho;
  expectNonNegative('rho', rho);
  return rho + 2 * Math.sqrt(rho * Math.log(1 / delta));
}

/**
 * The (epsilon, delta) spent by a DP-FTRL run: its Renyi curve alpha * rho converted at the
 * best order with the same conversion as the Poisson accountant (Balle et al. 2020 unless
 * 'classic'), so the two modes' epsilons compare like for like.
 */
export function treeEpsilon(
  run: TreeRun & {
    readonly delta: number;
    readonly orders?: readonly number[];
    readonly conversion?: RdpConversion;
  },
): PrivacySpent & { readonly rho: number } {
  const rho = treeRho(run);
  const orders = run.orders ?? DEFAULT_ORDERS;
  const rdp = zcdpToRdp(rho, orders);
  return { ...rdpToEpsilon(orders, rdp, run.delta, run.conversion), rho };
}
