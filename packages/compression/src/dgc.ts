import { expectFloat32, expectInt, expectSortedIndices, fail } from './validate.ts';

/**
 * The device side of Deep Gradient Compression (Lin et al., ICLR 2018) as it fits federated
 * rounds, where the device's "gradient" is a whole round's model delta and the device takes
 * part only now and then (docs/design.md, "Upload compression", says why these choices):
 *
 * - local clipping (DGC section 3.2): the delta is clipped to an L2 norm before it enters the
 *   accumulator, so one outsized round cannot fill the residual with mass that leaks out for
 *   many rounds after;
 * - momentum correction (DGC section 3.1): the device keeps u, a momentum of its deltas across
 *   the rounds it took part in, u' = m^gap * u + delta, and accumulates u' rather than the
 *   delta into the residual v' = v + u'; gap is the number of rounds since its last upload,
 *   so a momentum left by a device that was away for a while has decayed as if those rounds
 *   had brought nothing;
 * - momentum factor masking (DGC section 3.2): where coordinates were sent, u is zeroed as v
 *   is, so a momentum built for a value that already left does not push it again.
 *
 * Everything here is pure: the state comes in, a new one goes out.
 */

/** Clip `update` to L2 norm at most `clipNorm` (a new array; unchanged if it is within). */
export function clipUpdate(update: Float32Array, clipNorm: number): Float32Array {
  expectFloat32('update', update);
  if (typeof clipNorm !== 'number' || !(clipNorm > 0 && Number.isFinite(clipNorm))) {
    fail('clipNorm', 'positive finite number', clipNorm);
  }
  let sq = 0;
  for (let i = 0; i < update.length; i++) sq += update[i]! * update[i]!;
  const norm = Math.sqrt(sq);
  const out = new Float32Array(update);
  if (norm <= clipNorm) return out;
  const scale = clipNorm / norm;
  for (let i = 0; i < out.length; i++) out[i] = out[i]! * scale;
  return out;
}

/** How one round's delta enters the device's accumulator. */
export interface AccumulateOptions {
  /** The residual v kept from the last upload (absent: zeros). */
  readonly residual?: Float32Array | null;
  /** The momentum u kept from the last upload (absent: zeros). */
  readonly momentum?: Float32Array | null;
  /** Momentum factor m in [0, 1); 0 is plain error feedback. */
  readonly factor: number;
  /** Rounds since the device's last upload, at least 1 (u decays by m^gap). */
  readonly gap: number;
  /** L2 bound of the delta before it enters (absent: no clipping). */
  readonly clipNorm?: number;
}

/** The accumulator to select from, and the momentum to mask and keep. */
export interface Accumulated {
  /** v + u' (v + delta when the factor is 0): the values the upload selects from. */
  readonly accumulated: Float32Array;
  /** u' = m^gap * u + delta; null when the factor is 0. */
  readonly momentum: Float32Array | null;
}

/** Clip, add to the momentum, add the momentum to the residual (DGC's algorithm, lines 5-8). */
export function accumulate(update: Float32Array, options: AccumulateOptions): Accumulated {
  expectFloat32('update', update);
  const d = update.length;
  const m = options.factor;
  if (typeof m !== 'number' || !(m >= 0 && m < 1)) fail('factor', 'number in [0, 1)', m);
  const gap = expectInt('gap', options.gap, 1, 0xffffffff);
  const delta =
    options.clipNorm === undefined ? new Float32Array(update) : clipUpdate(update, options.clipNorm);
  let momentum: Float32Array | null = null;
  if (m > 0) {
    momentum = delta;
    const previous = options.momentum;
    if (previous) {
      expectFloat32('momentum', previous, d);
      const decay = m ** gap;
      momentum = new Float32Array(d);
      for (let i = 0; i < d; i++) momentum[i] = decay * previous[i]! + delta[i]!;
    }
  }
  const accumulated = new Float32Array(momentum ?? delta);
  if (options.residual) {
    expectFloat32('residual', options.residual, d);
    for (let i = 0; i < d; i++) accumulated[i] = accumulated[i]! + options.residual[i]!;
  }
  return { accumulated, momentum };
}

/** Momentum factor masking: zero `momentum` at the sent coordinates (in place). */
export function maskMomentum(momentum: Float32Array, sent: Uint32Array | null): void {
  expectFloat32('momentum', momentum);
  if (sent === null) {
    momentum.fill(0);
    return;
  }
  expectSortedIndices('sent', sent, momentum.length);
  for (let j = 0; j < sent.length; j++) momentum[sent[j]!] = 0;
}

/**
 * DGC's warm-up of the density (section 3.3): start at `start` and shrink exponentially to
 * `target` over `rounds` rounds (round 1 sends `start`, round rounds + 1 and later `target`):
 * start * (target / start)^((round - 1) / rounds). A start at or below the target, or no
 * warm-up rounds, is the target from round 1.
 */
export function warmupDensity(target: number, start: number, rounds: number, round: number): number {
  if (!(target > 0 && target <= 1)) fail('target', 'number in (0, 1]', target);
  if (!(start > 0 && start <= 1)) fail('start', 'number in (0, 1]', start);
  expectInt('rounds', rounds, 0, 0xffffffff);
  expectInt('round', round, 0, Number.MAX_SAFE_INTEGER);
  if (rounds === 0 || start <= target || round > rounds) return target;
  const t = Math.max(0, round - 1) / rounds;
  return start * (target / start) ** t;
}
