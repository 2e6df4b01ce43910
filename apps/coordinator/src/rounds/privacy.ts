import { randomFillSync } from 'node:crypto';
import {
  type FtrlPrivacySettings,
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
  TreeLedger,
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
  return adaptiveClip(settings) && stored?.clipNorm != null ? stored.clipNorm : initial;
}

/** Whether a task's clip norm moves (adaptive clipping, Andrew et al. 2021). */
function adaptiveClip(settings: PrivacySettings): boolean {
  return (settings.mode === 'off' || settings.mode === 'distributed') && settings.adaptive !== undefined;
}

/**
 * The task's ledger of Poisson-subsampled rounds as committed, or an empty one; null in
 * mode 'off' and in mode 'ftrl', which keeps a {@link loadTreeLedger} instead.
 */
export function loadLedger(
  settings: PrivacySettings,
  stored: StoredPrivacy | undefined,
): PrivacyLedger | null {
  if (settings.mode === 'off' || settings.mode === 'ftrl') return null;
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
 * A DP-FTRL task's ledger as committed, or an empty one. One kept under another z,
 * separation, restart rule or delta is refused, as a Poisson ledger at another delta is:
 * its trees were accounted under those values.
 */
export function loadTreeLedger(settings: FtrlPrivacySettings, stored: StoredPrivacy | undefined): TreeLedger {
  const params = {
    delta: settings.delta,
    noiseMultiplier: settings.noiseMultiplier,
    minSeparation: settings.minSeparation,
    restartEvery: settings.restartEvery,
  };
  if (!stored?.ledger) return new TreeLedger(params);
  const ledger = TreeLedger.fromJSON(stored.ledger);
  if (JSON.stringify(ledger.params) !== JSON.stringify(params)) {
    throw new PollenError(
      'INTERNAL',
      `the stored DP-FTRL ledger was kept under ${JSON.stringify(ledger.params)}, the task says ${JSON.stringify(params)}`,
    );
  }
  return ledger;
}

/**
 * The candidates a round may select from: all of them, or under DP-FTRL those whose last
 * round is at least `minSeparation` rounds before the next one (Kairouz et al. 2021). The
 * rule binds client ids: it holds per person only as far as one person cannot hold many ids.
 */
export function separated<T extends { readonly clientId: string }>(
  spec: TaskSpec,
  stored: StoredPrivacy | undefined,
  candidates: readonly T[],
): T[] {
  if (spec.privacy.mode !== 'ftrl') return [...candidates];
  const ledger = loadTreeLedger(spec.privacy, stored);
  return candidates.filter((c) => ledger.eligible(c.clientId));
}

/** What the operator sees of a task's spend: epsilon at delta and the rounds charged. */
export interface PrivacySummary {
  readonly delta: number;
  readonly epsilon: number;
  /** The Renyi order that gave epsilon; NaN when none did. */
  readonly order: number;
  readonly rounds: number;
  readonly entries: readonly unknown[];
}

/** The committed spend of a task; null in mode 'off'. */
export function privacySummary(
  settings: PrivacySettings,
  stored: StoredPrivacy | undefined,
): PrivacySummary | null {
  if (settings.mode === 'ftrl') {
    const ledger = loadTreeLedger(settings, stored);
    const spent = ledger.spent();
    const entries = ledger.segments.map((steps) => ({
      samplingRate: 1,
      noiseMultiplier: settings.noiseMultiplier,
      steps,
    }));
    return {
      delta: settings.delta,
      epsilon: spent.epsilon,
      order: spent.order,
      rounds: ledger.rounds,
      entries,
    };
  }
  const ledger = loadLedger(settings, stored);
  if (!ledger) return null;
  const spent = ledger.spent();
  return {
    delta: ledger.delta,
    epsilon: spent.epsilon,
    order: spent.order,
    rounds: ledger.steps,
    entries: ledger.entries,
  };
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
  if (settings.mode === 'ftrl') {
    const tree = loadTreeLedger(settings, stored);
    if (!tree.wouldExceed(settings.epsilonBudget)) return null;
    return `the next DP-FTRL round (z = ${settings.noiseMultiplier}, minSeparation = ${settings.minSeparation}) would take epsilon from ${tree.spent().epsilon.toFixed(3)} to ${tree.preview().epsilon.toFixed(3)}, past the budget of ${settings.epsilonBudget} at delta = ${settings.delta}`;
  }
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
  // DP-FTRL claims no amplification: it is charged as if every client were in every round
  // (q = 1 in the record), the tree accountant's separation doing what sampling does here.
  const samplingRate =
    settings.mode === 'off'
      ? 0
      : settings.mode === 'local' || settings.mode === 'ftrl'
        ? 1
        : chargedSamplingRate(sampling, selected, eligible);
  const ledger = loadLedger(settings, stored);
  const tree = settings.mode === 'ftrl' ? loadTreeLedger(settings, stored) : null;
  const before = tree?.spent().epsilon ?? ledger?.spent().epsilon ?? null;
  const after =
    tree?.preview().epsilon ?? ledger?.preview(samplingRate, noise.noiseMultiplier).epsilon ?? null;
  return {
    message: {
      mode: settings.mode,
      clipNorm,
      noiseStd: noise.noiseStd,
      clipBit: adaptiveClip(settings),
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
  participants: readonly string[] = [],
): PrivacyCommit {
  const settings = spec.privacy;
  if (settings.mode === 'ftrl') {
    // The round's selected clients count as taking part, whether or not they reported.
    const tree = loadTreeLedger(settings, stored);
    const epsilon = tree.record(participants).epsilon;
    return {
      state: { ledger: tree.toJSON(), clipNorm: settings.clipNorm },
      record: privacyRecord(plan, epsilon),
    };
  }
  const ledger = loadLedger(settings, stored);
  const epsilon = ledger ? ledger.record(plan.samplingRate, plan.noiseMultiplier).epsilon : null;
  const adaptive = settings.mode === 'off' || settings.mode === 'distributed' ? settings.adaptive : undefined;
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
