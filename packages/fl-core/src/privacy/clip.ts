import { PollenError } from '../errors.ts';
import { expectPositive } from '../validate.ts';
import { l2norm } from '../vector.ts';

/** A clipped update and what it took to clip it. */
export interface ClipResult {
  /** The update scaled to L2 norm at most the clip norm (a new vector; the input is untouched). */
  readonly clipped: Float32Array;
  /** The L2 norm of the update before clipping. */
  readonly norm: number;
  /** True when the norm was above the clip norm and the update was scaled down. */
  readonly wasClipped: boolean;
}

// Rounding each scaled entry to float32 can grow the norm by up to 2^-24 relative; shrinking
// the factor by 2^-23 keeps the result at or below the clip norm, which is what the privacy
// guarantee (sensitivity C) and the coordinator's norm check rely on.
const FLOAT32_MARGIN = 1 - 2 ** -23;

/**
 * Clip a whole update to L2 norm at most `clipNorm` by scaling it: x * min(1, C / ||x||).
 * Flat (whole-model) clipping as in DP-FedAvg (McMahan, Ramage, Talwar and Zhang, "Learning
 * Differentially Private Recurrent Language Models", ICLR 2018), which bounds each client's
 * contribution to the sum by C. Throws NON_FINITE when the update holds NaN or infinities.
 */
export function clipToNorm(update: Float32Array, clipNorm: number): ClipResult {
  expectPositive('clipNorm', clipNorm);
  const norm = l2norm(update);
  if (!Number.isFinite(norm)) {
    throw new PollenError('NON_FINITE', '"update" has a non-finite value, so it has no norm to clip');
  }
  if (norm <= clipNorm) return { clipped: update.slice(), norm, wasClipped: false };
  const factor = (clipNorm / norm) * FLOAT32_MARGIN;
  const clipped = new Float32Array(update.length);
  for (let i = 0; i < update.length; i++) clipped[i] = update[i]! * factor;
  return { clipped, norm, wasClipped: true };
}
