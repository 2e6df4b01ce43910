import { PollenError } from '../errors.ts';
import type { Rng } from '../rng.ts';
import { gaussian } from '../rng.ts';
import { expectInt, expectNonNegative, expectPositive } from '../validate.ts';
import { logNormalCdf, logSub } from './log-space.ts';

/**
 * Gaussian noise for clipped updates, in the two modes Pollen supports.
 *
 * Caveat, as for every library that samples Gaussians in floating point: the low bits of a
 * float sample can leak information (Mironov, "On Significance of the Least Significant Bits
 * for Differential Privacy", CCS 2012). The guarantee here is that of the real-valued mechanism.
 */

/**
 * A copy of `vector` with independent N(0, std^2) noise added to every entry, drawn from
 * `rng` (so a seeded Rng replays the same noise). std = 0 returns a plain copy.
 */
export function addGaussianNoise(vector: Float32Array, std: number, rng: Rng): Float32Array {
  expectNonNegative('std', std);
  const out = vector.slice();
  if (std === 0) return out;
  for (let i = 0; i < out.length; i++) out[i] = out[i]! + std * gaussian(rng);
  return out;
}

/** What a client needs to know to add its share of distributed noise. */
export interface DistributedNoiseParams {
  /** z: the standard deviation of the noise in the sum, in units of the clip norm. */
  readonly noiseMultiplier: number;
  /** C: the L2 norm every update was clipped to (the sum's sensitivity to one client). */
  readonly clipNorm: number;
  /** m: the fewest surviving clients the round will aggregate (its quorum). */
  readonly minSurvivors: number;
}

/**
 * Distributed DP: the standard deviation each client adds, z*C/sqrt(m). Independent
 * Gaussians add in variance, so the sum of any m' >= m surviving reports carries noise of
 * std z*C*sqrt(m'/m) >= z*C, the central Gaussian mechanism's noise for sensitivity C
 * (the DDGauss set-up of Kairouz, Liu and Steinke, "The Distributed Discrete Gaussian
 * Mechanism for Federated Learning with Secure Aggregation", ICML 2021, with continuous
 * noise). Drop-outs below m would leave too little noise: such a round must be abandoned.
 * The noise of the m' - m extra survivors is not credited to the accountant.
 */
export function distributedNoiseStd(params: DistributedNoiseParams): number {
  const z = expectNonNegative('noiseMultiplier', params.noiseMultiplier);
  const clipNorm = expectPositive('clipNorm', params.clipNorm);
  const m = expectInt('minSurvivors', params.minSurvivors, 1, Number.MAX_SAFE_INTEGER);
  return (z * clipNorm) / Math.sqrt(m);
}

function validateEpsilonDelta(epsilon: number, delta: number, sensitivity: number): void {
  expectPositive('epsilon', epsilon);
  expectPositive('sensitivity', sensitivity);
  if (typeof delta !== 'number' || !(delta > 0 && delta < 1)) {
    throw new PollenError(
      'INVALID_ARGUMENT',
      `"delta" expected finite number in (0, 1), got ${String(delta)}`,
    );
  }
}

/**
 * The classic Gaussian mechanism's sigma = sensitivity * sqrt(2 ln(1.25/delta)) / epsilon
 * (Dwork and Roth, "The Algorithmic Foundations of Differential Privacy", 2014, Theorem
 * A.1), proved only for epsilon < 1, so larger epsilons are refused. Kept for comparison;
 * Pollen uses {@link analyticGaussianSigma}.
 */
export function classicGaussianSigma(epsilon: number, delta: number, sensitivity: number): number {
  validateEpsilonDelta(epsilon, delta, sensitivity);
  if (epsilon >= 1) {
    throw new PollenError(
      'INVALID_ARGUMENT',
      `"epsilon" expected below 1 for the classic bound, got ${epsilon}`,
    );
  }
  return (sensitivity * Math.sqrt(2 * Math.log(1.25 / delta))) / epsilon;
}

/** log of the exact delta of the Gaussian mechanism with this sigma (Balle and Wang, Theorem 8). */
function logDeltaOf(sigma: number, epsilon: number, sensitivity: number): number {
  const a = sensitivity / (2 * sigma);
  const b = (epsilon * sigma) / sensitivity;
  return logSub(logNormalCdf(a - b), epsilon + logNormalCdf(-a - b));
}

/**
 * The smallest sigma for which adding N(0, sigma^2) to a function of L2 sensitivity
 * `sensitivity` is (epsilon, delta)-DP: the analytic Gaussian mechanism of Balle and Wang,
 * "Improving the Gaussian Mechanism for Differential Privacy: Analytical Calibration and
 * Optimal Denoising" (ICML 2018), Theorem 8, which holds for every epsilon > 0 and needs
 * less noise than the classic bound. Found by bisection, to 1e-12 relative, on the safe side.
 */
export function analyticGaussianSigma(epsilon: number, delta: number, sensitivity: number): number {
  validateEpsilonDelta(epsilon, delta, sensitivity);
  const target = Math.log(delta);
  const ok = (sigma: number): boolean => logDeltaOf(sigma, epsilon, sensitivity) <= target;
  let hi = sensitivity;
  while (!ok(hi)) hi *= 2;
  let lo = hi / 2;
  while (ok(lo) && lo > sensitivity * 1e-12) lo /= 2;
  while (hi - lo > hi * 1e-12) {
    const mid = (lo + hi) / 2;
    if (ok(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** What a client needs to know to add local-DP noise to its report. */
export interface LocalNoiseParams {
  /** epsilon of one report. */
  readonly epsilon: number;
  /** delta of one report. */
  readonly delta: number;
  /** C: the L2 norm the update was clipped to. */
  readonly clipNorm: number;
}

/**
 * Local DP: the standard deviation that makes one clipped report (epsilon, delta)-DP by
 * itself, with no trust in the server. Any two updates of norm at most C differ by at most
 * 2C, so the sensitivity is 2C, and sigma comes from the analytic Gaussian mechanism
 * ({@link analyticGaussianSigma}, Balle and Wang 2018). Reports compose: a client that
 * reports k times spends the composition of k such mechanisms.
 */
export function localNoiseStd(params: LocalNoiseParams): number {
  const clipNorm = expectPositive('clipNorm', params.clipNorm);
  return analyticGaussianSigma(params.epsilon, params.delta, 2 * clipNorm);
}
