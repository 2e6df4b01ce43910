import { PollenError } from '../errors.ts';
import type { Rng } from '../rng.ts';
import { gaussian } from '../rng.ts';
import { expectNonNegative, expectPositive } from '../validate.ts';

/**
 * Adaptive clipping: Andrew, Thakkar, McMahan and Ramaswamy, "Differentially Private Learning
 * with Adaptive Clipping" (NeurIPS 2021). Instead of a hand-tuned clip norm C, the server
 * tracks the gamma-quantile of the clients' update norms with a private geometric update.
 * Each client reports one bit, whether its update norm was at or below C; the server noises
 * the sum of bits and moves C geometrically toward the target quantile:
 *
 *   b = (sum of bits + N(0, sigma_b^2)) / m,   C <- C * exp(-eta_C * (b - gamma)).
 *
 * Too many clients at or below C (b > gamma) means C is above the quantile, so C shrinks.
 */

/** The knobs of the adaptive clipping update. */
export interface AdaptiveClipParams {
  /** gamma: the quantile of update norms C should track, in (0, 1); the paper uses 0.5. */
  readonly targetQuantile: number;
  /** eta_C: the geometric learning rate; the paper uses 0.2. */
  readonly learningRate: number;
  /** sigma_b: std of the noise on the sum of bits (sensitivity 1); see {@link defaultBitNoiseStd}. */
  readonly bitNoiseStd: number;
}

/** One round of the clip norm update. */
export interface ClipNormStep {
  /** The clip norm for the next round. */
  readonly clipNorm: number;
  /** b: the noised fraction of clients whose update norm was at or below the old C. */
  readonly noisedFraction: number;
}

/**
 * The bit a client reports: 1 when its update norm was at or below the clip norm, 0 when
 * the update was clipped. Computed from the norm before clipping.
 */
export function clipBit(norm: number, clipNorm: number): 0 | 1 {
  if (Number.isNaN(norm)) throw new PollenError('INVALID_ARGUMENT', '"norm" expected a number, got NaN');
  return norm <= clipNorm ? 1 : 0;
}

/**
 * The server's step: noise the sum of the clients' bits with N(0, sigma_b^2), divide by the
 * expected number of clients m (not the count that arrived, so that the result's
 * sensitivity to one client stays 1/m), and move C by exp(-eta_C * (b - gamma))
 * (Andrew et al. 2021, Algorithm 1). With sigma_b = 0 no randomness is drawn.
 */
export function nextClipNorm(
  clipNorm: number,
  bitSum: number,
  expectedClients: number,
  params: AdaptiveClipParams,
  rng: Rng,
): ClipNormStep {
  expectPositive('clipNorm', clipNorm);
  expectNonNegative('bitSum', bitSum);
  expectPositive('expectedClients', expectedClients);
  const gamma = params.targetQuantile;
  if (typeof gamma !== 'number' || !(gamma > 0 && gamma < 1)) {
    throw new PollenError(
      'INVALID_ARGUMENT',
      `"targetQuantile" expected number in (0, 1), got ${String(gamma)}`,
    );
  }
  const eta = expectPositive('learningRate', params.learningRate);
  const sigmaB = expectNonNegative('bitNoiseStd', params.bitNoiseStd);
  const noise = sigmaB === 0 ? 0 : sigmaB * gaussian(rng);
  const noisedFraction = (bitSum + noise) / expectedClients;
  const next = clipNorm * Math.exp(-eta * (noisedFraction - gamma));
  // exp cannot reach 0 or Infinity for sane inputs; a wild eta or count must not poison C.
  return { clipNorm: Math.min(Math.max(next, Number.MIN_VALUE), Number.MAX_VALUE), noisedFraction };
}

/** The paper's default bit noise: sigma_b = m / 20 for m expected clients per round. */
export function defaultBitNoiseStd(expectedClients: number): number {
  return expectPositive('expectedClients', expectedClients) / 20;
}

/**
 * The noise multiplier to use on the clipped updates so that updates and bits together cost
 * the same privacy as updates alone at noise multiplier z: z_delta = (z^-2 - (2 sigma_b)^-2)^-1/2
 * (Andrew et al. 2021, Section 3). The two Gaussian queries compose into one of noise
 * multiplier z, so the accountant keeps using z. Needs 2 sigma_b > z; z = 0 gives 0.
 */
export function adaptiveNoiseMultiplier(noiseMultiplier: number, bitNoiseStd: number): number {
  const z = expectNonNegative('noiseMultiplier', noiseMultiplier);
  const sigmaB = expectNonNegative('bitNoiseStd', bitNoiseStd);
  if (z === 0) return 0;
  if (2 * sigmaB <= z) {
    throw new PollenError(
      'INVALID_ARGUMENT',
      `"bitNoiseStd" expected above noiseMultiplier / 2 (${z / 2}), got ${sigmaB}: the bits would cost more privacy than the whole budget`,
    );
  }
  return (z ** -2 - (2 * sigmaB) ** -2) ** -0.5;
}
