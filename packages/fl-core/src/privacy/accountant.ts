import { PollenError } from '../errors.ts';
import { expectInRange, expectInt, expectNonNegative } from '../validate.ts';
import { logAdd, logErfc, logSub } from './log-space.ts';

/**
 * Renyi differential privacy (RDP) accounting for the Poisson-subsampled Gaussian mechanism.
 *
 * Each round samples every client independently with probability q (Poisson sampling) and
 * releases the sum of their updates, each clipped to L2 norm C, plus Gaussian noise of
 * standard deviation z*C. Mironov, Talwar and Zhang, "Renyi Differential Privacy of the
 * Sampled Gaussian Mechanism" (2019), give its RDP at order alpha as log(A_alpha)/(alpha-1);
 * RDP composes by addition over rounds, and is converted to (epsilon, delta) at the end.
 * The series below follow the numerically stable log-space forms used by TensorFlow Privacy
 * and Opacus (`_compute_log_a_int`, `_compute_log_a_frac`), written anew here.
 */

/**
 * Orders the accountant tracks unless told otherwise: 1.1 to 10.9 in steps of 0.1, then the
 * integers 11 to 64, then 128 and 256 (the grid of Opacus and TensorFlow Privacy, plus two
 * large orders for strongly private settings).
 */
export const DEFAULT_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, i) => (11 + i) / 10),
  ...Array.from({ length: 54 }, (_, i) => 11 + i),
  128,
  256,
]);

/** An (epsilon, delta) guarantee and the RDP order that gave the smallest epsilon. */
export interface PrivacySpent {
  readonly epsilon: number;
  /** NaN when no order gives a finite epsilon (no noise, say). */
  readonly order: number;
}

/** How RDP becomes (epsilon, delta): 'improved' (Balle et al. 2020) or 'classic' (Mironov 2017). */
export type RdpConversion = 'improved' | 'classic';

/** A run of `steps` rounds of the subsampled Gaussian mechanism with the same q and z. */
export interface SubsampledGaussian {
  /** q: the probability that each client is sampled in a round, in [0, 1]. */
  readonly samplingRate: number;
  /** z: noise standard deviation divided by the clip norm (the L2 sensitivity). */
  readonly noiseMultiplier: number;
  /** Number of rounds (compositions). */
  readonly steps: number;
  /** RDP orders, each a finite number above 1; DEFAULT_ORDERS when absent. */
  readonly orders?: readonly number[];
}

const LOG_HALF = Math.log(0.5);
// Stop a fractional-order series once both new terms are below e^-30 (A_alpha >= 1, so this
// is a relative error below 1e-13). The cap only guards against a pathological input.
const SERIES_CUTOFF = -30;
const SERIES_CAP = 1_000_000;

/** log(A_alpha) for integer alpha: the binomial expansion, term by term in log space. */
function logAInt(q: number, sigma: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const twoSigma2 = 2 * sigma * sigma;
  let logA = Number.NEGATIVE_INFINITY;
  let logBinom = 0;
  for (let i = 0; i <= alpha; i++) {
    if (i > 0) logBinom += Math.log((alpha - i + 1) / i);
    logA = logAdd(logA, logBinom + i * logQ + (alpha - i) * log1mQ + (i * i - i) / twoSigma2);
  }
  return logA;
}

/**
 * log(A_alpha) for fractional alpha: the two infinite series of Mironov et al. (2019),
 * Section 3.3, split at z0 where the two Gaussians' likelihood ratio crosses, with
 * generalized binomial coefficients whose sign alternates past i = alpha.
 */
function logAFrac(q: number, sigma: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const twoSigma2 = 2 * sigma * sigma;
  const sqrt2Sigma = Math.SQRT2 * sigma;
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
  let logA0 = Number.NEGATIVE_INFINITY;
  let logA1 = Number.NEGATIVE_INFINITY;
  let logAbsCoef = 0;
  let positive = true;
  for (let i = 0; i < SERIES_CAP; i++) {
    if (i > 0) {
      const ratio = (alpha - i + 1) / i;
      logAbsCoef += Math.log(Math.abs(ratio));
      if (ratio < 0) positive = !positive;
    }
    const j = alpha - i;
    const logS0 =
      logAbsCoef +
      i * logQ +
      j * log1mQ +
      (i * i - i) / twoSigma2 +
      LOG_HALF +
      logErfc((i - z0) / sqrt2Sigma);
    const logS1 =
      logAbsCoef +
      j * logQ +
      i * log1mQ +
      (j * j - j) / twoSigma2 +
      LOG_HALF +
      logErfc((z0 - j) / sqrt2Sigma);
    if (positive) {
      logA0 = logAdd(logA0, logS0);
      logA1 = logAdd(logA1, logS1);
    } else {
      logA0 = logSub(logA0, logS0);
      logA1 = logSub(logA1, logS1);
    }
    if (Math.max(logS0, logS1) < SERIES_CUTOFF) break;
  }
  return logAdd(logA0, logA1);
}

/**
 * RDP at one order of one round of the Poisson-subsampled Gaussian mechanism with sampling
 * rate q and noise multiplier z (Mironov, Talwar and Zhang 2019). Arguments are trusted:
 * validate with {@link computeRdp}.
 */
export function rdpOfSubsampledGaussian(q: number, z: number, order: number): number {
  if (q === 0) return 0;
  if (z === 0) return Number.POSITIVE_INFINITY;
  // Without subsampling this is the Gaussian mechanism: alpha / (2 z^2) (Mironov 2017).
  if (q === 1) return order / (2 * z * z);
  const logA = Number.isInteger(order) ? logAInt(q, z, order) : logAFrac(q, z, order);
  // A_alpha >= 1 in exact arithmetic; rounding may leave log(A) a hair below zero.
  return Math.max(0, logA) / (order - 1);
}

function validateOrders(orders: readonly number[]): readonly number[] {
  if (!Array.isArray(orders) || orders.length === 0 || orders.length > 10_000) {
    throw new PollenError('INVALID_ARGUMENT', '"orders" expected a non-empty array of numbers above 1');
  }
  orders.forEach((order, i) => {
    if (typeof order !== 'number' || !Number.isFinite(order) || order <= 1 || order > 1e6) {
      throw new PollenError(
        'INVALID_ARGUMENT',
        `"orders[${i}]" expected finite number in (1, 1e6], got ${order}`,
      );
    }
  });
  return orders;
}

function validateDelta(delta: unknown): number {
  if (typeof delta !== 'number' || !(delta > 0 && delta < 1)) {
    throw new PollenError(
      'INVALID_ARGUMENT',
      `"delta" expected finite number in (0, 1), got ${String(delta)}`,
    );
  }
  return delta;
}

/**
 * The total RDP, at each order, of `steps` rounds of the Poisson-subsampled Gaussian
 * mechanism (Mironov, Talwar and Zhang 2019). Returns one value per order, in order; an
 * entry is Infinity when z = 0 and q > 0.
 */
export function computeRdp(run: SubsampledGaussian): number[] {
  const q = expectInRange('samplingRate', run.samplingRate, 0, 1);
  const z = expectNonNegative('noiseMultiplier', run.noiseMultiplier);
  const steps = expectInt('steps', run.steps, 0, Number.MAX_SAFE_INTEGER);
  const orders = validateOrders(run.orders ?? DEFAULT_ORDERS);
  return orders.map((order) => (steps === 0 ? 0 : steps * rdpOfSubsampledGaussian(q, z, order)));
}

/**
 * Convert RDP curves to the smallest epsilon over the orders at the given delta.
 *
 * - 'improved' (default): Balle, Barthe, Gaboardi, Hsu and Sato, "Hypothesis Testing
 *   Interpretations and Renyi Differential Privacy" (AISTATS 2020), Theorem 21:
 *   epsilon = rdp + log((alpha-1)/alpha) - (log(delta) + log(alpha)) / (alpha-1),
 *   as in Opacus `get_privacy_spent` and TensorFlow Privacy's `compute_epsilon`. Where
 *   delta >= sqrt(1 - exp(-rdp)), epsilon is 0: RDP bounds KL divergence, and by the
 *   Bretagnolle-Huber inequality the total variation distance is then at most delta.
 * - 'classic': Mironov, "Renyi Differential Privacy" (CSF 2017), Proposition 3:
 *   epsilon = rdp + log(1/delta) / (alpha-1).
 */
export function rdpToEpsilon(
  orders: readonly number[],
  rdp: readonly number[],
  delta: number,
  conversion: RdpConversion = 'improved',
): PrivacySpent {
  validateOrders(orders);
  validateDelta(delta);
  if (rdp.length !== orders.length) {
    throw new PollenError('SHAPE_MISMATCH', `"rdp" expected ${orders.length} values, got ${rdp.length}`);
  }
  let best: PrivacySpent = { epsilon: Number.POSITIVE_INFINITY, order: Number.NaN };
  const logDelta = Math.log(delta);
  orders.forEach((alpha, i) => {
    const r = rdp[i]!;
    if (Number.isNaN(r) || r < 0) {
      throw new PollenError('INVALID_ARGUMENT', `"rdp[${i}]" expected non-negative number, got ${r}`);
    }
    let epsilon: number;
    if (conversion === 'classic') {
      epsilon = r - logDelta / (alpha - 1);
    } else if (delta * delta + Math.expm1(-r) > 0) {
      epsilon = 0;
    } else {
      epsilon = r + Math.log1p(-1 / alpha) - (logDelta + Math.log(alpha)) / (alpha - 1);
    }
    epsilon = Math.max(0, epsilon);
    if (epsilon < best.epsilon) best = { epsilon, order: alpha };
  });
  return best;
}

/**
 * The (epsilon, delta) spent by `steps` rounds of the Poisson-subsampled Gaussian mechanism
 * with sampling rate q and noise multiplier z: RDP by Mironov, Talwar and Zhang (2019),
 * converted by Balle et al. (2020) unless `conversion` is 'classic'.
 *
 * @example epsilonFor({ samplingRate: 256 / 60000, noiseMultiplier: 1.12, steps: 14063, delta: 1e-5 })
 *   // about { epsilon: 2.52, order: ... }
 */
export function epsilonFor(
  run: SubsampledGaussian & { readonly delta: number; readonly conversion?: RdpConversion },
): PrivacySpent {
  const orders = run.orders ?? DEFAULT_ORDERS;
  return rdpToEpsilon(orders, computeRdp({ ...run, orders }), validateDelta(run.delta), run.conversion);
}
