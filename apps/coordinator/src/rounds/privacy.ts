import { randomFillSync } from 'node:crypto';
import {
  initialClipNorm,
  nextClipNorm,
  noisedNormBound,
  PollenError,
  PrivacyLedger,
  type PrivacySettings,
  type Rng,
  type RoundPrivacy,
  type RoundSpec,
  roundNoise,
  type TaskSpec,
} from '@pollen/fl-core';
import type { PrivacyState, RoundPrivacyRecord, StoredPrivacy } from '../store/types.ts';

/**
 * A task's differential privacy on the coordinator: which sampling rate q and noise
 * multiplier z a round is charged, what its clients are told to do, the norm bound its
 * reports must meet, and the ledger and adaptive clip norm it commits.
 */

// Rounding of the wire codec: float16 moves each value by up to 2^-11 relative, float32 by 2^-24.
const CODEC_SLACK = { f16: 1e-3, f32: 1e-5 } as const;

/** What a round's privacy is, fixed when its cohort is drawn. */
export interface PrivacyPlan {
  /** What the selected clients are told to do. */
  readonly message: RoundPrivacy;
  /** Reports with a larger L2 norm are refused (NORM_TOO_LARGE). */
  readonly maxNorm: number;
  /** q charged to the ledger when the round commits. */
  readonly samplingRate: number;
  /** z charged to the ledger when the round commits. */
  readonly noiseMultiplier: number;
  /** sigma_b on the sum of clipping bits. */
  readonly bitNoiseStd: number;
  /**
   * The public denominator of the round's mean and clipping-bit fraction: the reports a
   * round of this cohort expects, min(cohortSize, selected), fixed before anyone reports so
   * that it does not depend on the data (McMahan et al. 2018's fixed-denominator estimator).
   */
  readonly expectedReports: number;
  /** Whether reports are noised for DP: then every client counts once, whatever its example count. */
  readonly private: boolean;
}

/** The clip norm the next round uses: where adaptive clipping left it, or the task's own. */
export function currentClipNorm(settings: PrivacySettings, stored: StoredPrivacy | undefined): number | null {
  const initial = initialClipNorm(settings);
  if (initial === null) return null;
  const adaptive = settings.mode !== 'local' && settings.adaptive !== undefined;
  return adaptive && stored?.clipNorm != null ? stored.clipNorm : initial;
}

/** The task's ledger as committed, or an empty one; null in mode 'off'. */
export function loadLedger(
  settings: PrivacySettings,
  stored: StoredPrivacy | undefined,
): PrivacyLedger | null {
  if (settings.mode === 'off') return null;
  if (!stored?.ledger) return new PrivacyLedger({ delta: settings.delta });
  // A malformed ledger throws in fromJSON and one kept at another delta is refused here: the
  // round fails and the task makes no progress, rather than start again from epsilon 0.
  const ledger = PrivacyLedger.fromJSON(stored.ledger);
  if (ledger.delta !== settings.delta) {
    throw new PollenError(
      'INTERNAL',
      `the stored privacy ledger is kept at delta = ${ledger.delta}, the task's delta is ${settings.delta}`,
    );
  }
  return ledger;
}

/**
 * The q a round will be charged at most, before its cohort is drawn: the Poisson rate
 * (samplingRate * overSelection), or the fraction the min-cohort top-up forces when the
 * eligible population is small. {@link chargedSamplingRate} never exceeds it.
 */
export function predictedSamplingRate(
  rounds: Pick<RoundSpec, 'samplingRate' | 'overSelection' | 'minClients'>,
  eligible: number,
): number {
  const rate = Math.min(1, rounds.samplingRate * rounds.overSelection);
  return Math.min(1, Math.max(rate, rounds.minClients / Math.max(1, eligible)));
}

/**
 * The q a drawn round is charged. An unclamped Poisson cohort is charged its rate, the
 * probability that any one client was in it (Mironov, Talwar and Zhang 2019). A cohort topped
 * up to minClients is charged the fraction it took, as uniform selection would be; and a
 * cohort cut to its cap is charged the rate, an upper bound on anyone's chance to be in it.
 * Neither clamped case is Poisson sampling, so the amplification bound is a heuristic there:
 * the round record says which rounds were clamped.
 */
export function chargedSamplingRate(
  sampling: { readonly rate: number; readonly clamped: 'none' | 'min' | 'max' },
  selected: number,
  eligible: number,
): number {
  if (sampling.clamped !== 'min') return sampling.rate;
  return Math.min(1, Math.max(sampling.rate, selected / Math.max(1, eligible)));
}

/**
 * Why a task must stop before its next round, or null: the ledger's epsilon after one more
 * round at the predicted q would pass the budget (PrivacyLedger.wouldExceed).
 */
export function budgetExhaustedReason(
  spec: TaskSpec,
  stored: StoredPrivacy | undefined,
  eligible: number,
): string | null {
  const settings = spec.privacy;
  if (settings.mode === 'off') return null;
  const ledger = loadLedger(settings, stored)!;
  const clipNorm = currentClipNorm(settings, stored)!;
  const q = settings.mode === 'local' ? 1 : predictedSamplingRate(spec.rounds, eligible);
  const expected = Math.max(1, Math.min(spec.rounds.cohortSize, Math.round(q * eligible)));
  const { noiseMultiplier } = roundNoise(settings, clipNorm, spec.rounds.minReports, expected);
  if (!ledger.wouldExceed(settings.epsilonBudget, q, noiseMultiplier)) return null;
  const now = ledger.spent().epsilon;
  const next = ledger.preview(q, noiseMultiplier).epsilon;
  return `the next round (q = ${q.toPrecision(3)}, z = ${noiseMultiplier.toPrecision(3)}) would take epsilon from ${now.toFixed(3)} to ${next.toFixed(3)}, past the budget of ${settings.epsilonBudget} at delta = ${settings.delta}`;
}

/**
 * Plan a drawn round: C, each client's noise, the clipping bit, the norm bound for a model of
 * `dimension` weights, and the (q, z) it will be charged. Null when the task does not clip.
 */
export function planPrivacy(
  spec: TaskSpec,
  stored: StoredPrivacy | undefined,
  sampling: { readonly rate: number; readonly clamped: 'none' | 'min' | 'max' },
  selected: number,
  eligible: number,
  dimension: number,
): PrivacyPlan | null {
  const settings = spec.privacy;
  const clipNorm = currentClipNorm(settings, stored);
  if (clipNorm === null) return null;
  const expectedReports = Math.max(1, Math.min(spec.rounds.cohortSize, selected));
  const noise = roundNoise(settings, clipNorm, spec.rounds.minReports, expectedReports);
  const samplingRate =
    settings.mode === 'off'
      ? 0
      : settings.mode === 'local'
        ? 1
        : chargedSamplingRate(sampling, selected, eligible);
  const ledger = loadLedger(settings, stored);
  const before = ledger?.spent().epsilon ?? null;
  const after = ledger ? ledger.preview(samplingRate, noise.noiseMultiplier).epsilon : null;
  return {
    message: {
      mode: settings.mode,
      clipNorm,
      noiseStd: noise.noiseStd,
      clipBit: settings.mode !== 'local' && settings.adaptive !== undefined,
      delta: settings.mode === 'off' ? null : settings.delta,
      epsilonBefore: before,
      epsilonAfter: after,
    },
    maxNorm: noisedNormBound(clipNorm, noise.noiseStd, dimension, CODEC_SLACK[spec.codec]),
    samplingRate,
    noiseMultiplier: noise.noiseMultiplier,
    bitNoiseStd: noise.bitNoiseStd,
    expectedReports,
    private: settings.mode !== 'off',
  };
}

/** A round's privacy as its record keeps it; `epsilon` is the task's total as it stands. */
export function privacyRecord(plan: PrivacyPlan, epsilon: number | null): RoundPrivacyRecord {
  return {
    mode: plan.message.mode,
    clipNorm: plan.message.clipNorm,
    noiseStd: plan.message.noiseStd,
    samplingRate: plan.samplingRate,
    noiseMultiplier: plan.noiseMultiplier,
    delta: plan.message.delta,
    epsilon,
  };
}

/** What a committed round writes: the ledger and clip norm for the store, the record's privacy. */
export interface PrivacyCommit {
  readonly state: PrivacyState;
  readonly record: RoundPrivacyRecord;
}

/**
 * Charge a committed round to the ledger and, under adaptive clipping, move C from the noised
 * fraction of clipping bits (Andrew et al. 2021, Algorithm 1). The raw bit count never leaves
 * this function: the record keeps the noised fraction and the new C, as a released value must be.
 */
export function commitPrivacy(
  spec: TaskSpec,
  stored: StoredPrivacy | undefined,
  plan: PrivacyPlan,
  bitSum: number,
  rng: Rng,
): PrivacyCommit {
  const settings = spec.privacy;
  const ledger = loadLedger(settings, stored);
  const epsilon = ledger ? ledger.record(plan.samplingRate, plan.noiseMultiplier).epsilon : null;
  const adaptive = settings.mode !== 'local' ? settings.adaptive : undefined;
  let clipNorm = plan.message.clipNorm;
  let clipBits: RoundPrivacyRecord['clipBits'];
  if (adaptive && plan.message.clipBit) {
    const step = nextClipNorm(
      clipNorm,
      bitSum,
      plan.expectedReports,
      {
        targetQuantile: adaptive.targetQuantile,
        learningRate: adaptive.learningRate,
        bitNoiseStd: plan.bitNoiseStd,
      },
      rng,
    );
    clipNorm = step.clipNorm;
    clipBits = { noisedFraction: step.noisedFraction, nextClipNorm: step.clipNorm };
  }
  return {
    state: { ledger: ledger?.toJSON() ?? null, clipNorm },
    record: { ...privacyRecord(plan, epsilon), ...(clipBits ? { clipBits } : {}) },
  };
}

/**
 * Uniform numbers in [0, 1) from the operating system's CSPRNG, 53 bits each, drawn in
 * blocks: the noise on the clipping bits must not be predictable from a seed.
 */
export function cryptoRng(): Rng {
  const block = new Uint32Array(2048);
  let next = block.length;
  return () => {
    if (next + 2 > block.length) {
      randomFillSync(block);
      next = 0;
    }
    const hi = block[next++]! >>> 5;
    const lo = block[next++]! >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  };
}
