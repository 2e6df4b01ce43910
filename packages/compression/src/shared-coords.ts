import { type ErrorFeedbackStep, errorFeedback } from './error-feedback.ts';
import { randomInt, sfc32 } from './prng.ts';
import { topKIndices } from './topk.ts';
import { expectFloat32, expectInt, expectSortedIndices, fail } from './validate.ts';

/**
 * Shared-coordinate sparsity, the form of top-k that survives secure aggregation. Masked
 * updates can only be summed coordinate by coordinate, so every client of a round must send
 * the same coordinates: the server picks them, each client sends its values there and keeps
 * the rest as error-feedback residual. The server picks the top-k of a momentum of its recent
 * aggregates (where updates have been large lately, as in the global top-k of Shi et al.,
 * ICDCS 2019) plus coordinates drawn at random from the
 * round's seed, so coordinates that have gone quiet still get a chance and a residual cannot
 * sit unsent for ever.
 */

/** How the server picks a round's shared coordinates. */
export interface SharedCoordinateOptions {
  /** Coordinates taken from the top of the momentum by magnitude. */
  readonly k: number;
  /** Further coordinates drawn uniformly from the rest, for exploration. */
  readonly explore: number;
  /** The round's 32-bit seed for the exploration draw (sfc32). */
  readonly seed: number;
}

/**
 * The round's coordinate set, sorted ascending, of exactly k + explore coordinates: the top-k
 * of `momentum` by magnitude (ties to the lower index) plus `explore` coordinates drawn
 * without replacement from the others with sfc32(seed). Coordinates where the momentum is
 * zero carry no signal, so while it has fewer than k non-zero entries (the first rounds)
 * the places left over are drawn at random too rather than given to the lowest indices.
 * The same momentum and seed always give the same set.
 */
export function chooseSharedCoordinates(
  momentum: Float32Array,
  options: SharedCoordinateOptions,
): Uint32Array {
  expectFloat32('momentum', momentum);
  const d = momentum.length;
  const k = expectInt('k', options.k, 0, d);
  const explore = expectInt('explore', options.explore, 0, d - k);
  const rng = sfc32(options.seed);
  let nonZero = 0;
  for (let i = 0; i < d; i++) if (momentum[i] !== 0) nonZero++;
  const top = topKIndices(momentum, Math.min(k, nonZero));
  const chosen = new Uint8Array(d);
  for (let j = 0; j < top.length; j++) chosen[top[j]!] = 1;
  // Floyd's sampling (see sample.ts) over ranks in the complement of the top set, then one
  // scan maps ranks to coordinates; the draw depends only on the seed and the top set's size.
  const free = d - top.length;
  const draws = explore + (k - top.length);
  const picked = new Uint8Array(free);
  for (let j = free - draws; j < free; j++) {
    const t = randomInt(rng, j + 1);
    picked[picked[t] ? j : t] = 1;
  }
  const out = new Uint32Array(k + explore);
  let rank = 0;
  let w = 0;
  for (let i = 0; i < d; i++) {
    if (chosen[i]) out[w++] = i;
    else if (picked[rank++]) out[w++] = i;
  }
  return out;
}

/**
 * The client side: corrected = update + residual; the values at the round's shared
 * coordinates are sent (in coordinate order) and everything else is the new residual.
 * Mass is conserved exactly, as in `errorFeedback`.
 */
export function sendSharedCoordinates(
  update: Float32Array,
  residual: Float32Array | undefined,
  coordinates: Uint32Array,
): ErrorFeedbackStep {
  expectSortedIndices('coordinates', coordinates, update.length);
  return errorFeedback(update, residual, () => coordinates);
}

/**
 * The server's momentum after a round: beta * momentum + aggregate, a new array. Its top-k
 * picks the next round's coordinates. beta in [0, 1): 0 uses the last aggregate alone.
 */
export function updateMomentum(momentum: Float32Array, aggregate: Float32Array, beta: number): Float32Array {
  expectFloat32('momentum', momentum);
  expectFloat32('aggregate', aggregate, momentum.length);
  if (typeof beta !== 'number' || !(beta >= 0 && beta < 1)) fail('beta', 'number in [0, 1)', beta);
  const out = new Float32Array(momentum.length);
  for (let i = 0; i < out.length; i++) out[i] = beta * momentum[i]! + aggregate[i]!;
  return out;
}
