import { PollenError } from '../errors.ts';
import { expectInt, expectNonNegative, expectObject, expectOneOf, expectPositive } from '../validate.ts';

/**
 * How a task protects its contributors:
 * - 'distributed': every client clips its update and adds its share of Gaussian noise, so the
 *   securely aggregated sum carries noise z*C; the server accounts epsilon centrally.
 * - 'local': every client clips and adds enough noise for its report alone to be
 *   (epsilonPerReport, delta)-DP, trusting nobody.
 * - 'ftrl': DP-FTRL (Kairouz et al. 2021): every client clips; the coordinator adds the noise
 *   of a tree of prefix sums to the (securely) aggregated sum and keeps every client to one
 *   round in any `minSeparation` consecutive ones, so epsilon needs no sampling assumption.
 * - 'off': no noise and no accounting (clipping alone may still be asked for).
 */
export type PrivacyMode = 'off' | 'distributed' | 'local' | 'ftrl';

/** The modes, for validation and forms. */
export const PRIVACY_MODES: readonly PrivacyMode[] = ['off', 'distributed', 'local', 'ftrl'];

/** Adaptive clipping settings (Andrew et al. 2021): C tracks a quantile of update norms. */
export interface AdaptiveClipSettings {
  /** gamma in (0, 1): the quantile of update norms to track; 0.5 is the paper's default. */
  readonly targetQuantile: number;
  /** eta_C > 0: the geometric learning rate; 0.2 is the paper's default. */
  readonly learningRate: number;
  /** The clip norm of the first round. */
  readonly initialClip: number;
  /** sigma_b, noise on the sum of bits; when absent, expected cohort size / 20. */
  readonly bitNoiseStd?: number;
}

/** A fixed clip norm C, or adaptive clipping: exactly one of the two. */
export type ClipSettings =
  | { readonly clipNorm: number; readonly adaptive?: undefined }
  | { readonly clipNorm?: undefined; readonly adaptive: AdaptiveClipSettings };

/** Distributed DP with central accounting (the default for secure aggregation). */
export type DistributedPrivacySettings = ClipSettings & {
  readonly mode: 'distributed';
  /** z > 0: noise std in the aggregate divided by C. */
  readonly noiseMultiplier: number;
  /** delta in (0, 1) at which epsilon is reported; well below 1 / population. */
  readonly delta: number;
  /** The epsilon at which the task stops selecting rounds. */
  readonly epsilonBudget: number;
};

/**
 * Local DP: each report is (epsilonPerReport, delta)-DP on its own. A client's spend over k
 * reports is the composition of k Gaussian mechanisms of noise multiplier
 * sigma / (2C), which the ledger accounts with sampling rate 1.
 */
export interface LocalPrivacySettings {
  readonly mode: 'local';
  readonly clipNorm: number;
  readonly epsilonPerReport: number;
  readonly delta: number;
  readonly epsilonBudget: number;
}

/**
 * DP-FTRL with tree aggregation: central noise on a binary tree of prefix sums, the
 * participation rule instead of sampling (privacy/tree-accountant.ts, privacy/ftrl.ts).
 */
export interface FtrlPrivacySettings {
  readonly mode: 'ftrl';
  readonly clipNorm: number;
  /** z > 0: each tree node's noise std divided by C. */
  readonly noiseMultiplier: number;
  readonly delta: number;
  readonly epsilonBudget: number;
  /** b >= 1: a client id takes part in at most one round of any b consecutive rounds. */
  readonly minSeparation: number;
  /** Rounds per tree before it restarts from the current model; 0 (default): never. */
  readonly restartEvery: number;
}

/** No differential privacy; updates may still be clipped. */
export interface NoPrivacySettings {
  readonly mode: 'off';
  readonly clipNorm?: number;
  readonly adaptive?: AdaptiveClipSettings;
}

/** A task's privacy block, as validated by {@link validatePrivacySettings}. */
export type PrivacySettings =
  | NoPrivacySettings
  | DistributedPrivacySettings
  | LocalPrivacySettings
  | FtrlPrivacySettings;

function invalid(message: string): PollenError {
  return new PollenError('INVALID_TASK', message);
}

function expectOpenUnit(name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0 && value < 1)) {
    const shown = typeof value === 'number' ? String(value) : typeof value;
    throw invalid(`"${name}" expected number in (0, 1), got ${shown}`);
  }
  return value;
}

function validateAdaptive(value: unknown): AdaptiveClipSettings {
  const obj = expectObject('privacy.adaptive', value, 'INVALID_TASK');
  const settings = {
    targetQuantile: expectOpenUnit('privacy.adaptive.targetQuantile', obj.targetQuantile),
    learningRate: expectPositive('privacy.adaptive.learningRate', obj.learningRate, 'INVALID_TASK'),
    initialClip: expectPositive('privacy.adaptive.initialClip', obj.initialClip, 'INVALID_TASK'),
  };
  if (obj.bitNoiseStd === undefined) return settings;
  return {
    ...settings,
    bitNoiseStd: expectNonNegative('privacy.adaptive.bitNoiseStd', obj.bitNoiseStd, 'INVALID_TASK'),
  };
}

function validateClip(obj: Record<string, unknown>, required: boolean): ClipSettings | Record<string, never> {
  const hasFixed = obj.clipNorm !== undefined;
  const hasAdaptive = obj.adaptive !== undefined;
  if (hasFixed && hasAdaptive) {
    throw invalid('"privacy" expected either "clipNorm" or "adaptive", not both');
  }
  if (hasFixed) return { clipNorm: expectPositive('privacy.clipNorm', obj.clipNorm, 'INVALID_TASK') };
  if (hasAdaptive) return { adaptive: validateAdaptive(obj.adaptive) };
  if (required) {
    throw invalid('"privacy" expected "clipNorm" or "adaptive": noise is calibrated to the clip norm');
  }
  return {};
}

function validateFtrl(
  obj: Record<string, unknown>,
  noiseMultiplier: number,
  delta: number,
  epsilonBudget: number,
): FtrlPrivacySettings {
  if (obj.adaptive !== undefined) {
    throw invalid(
      '"privacy.adaptive" is not available in mode "ftrl": the tree accountant has no place for the clipping bits; set a fixed "privacy.clipNorm"',
    );
  }
  const clipNorm = expectPositive('privacy.clipNorm', obj.clipNorm, 'INVALID_TASK');
  if (obj.minSeparation === undefined) {
    throw invalid(
      '"privacy.minSeparation" is required in mode "ftrl": without it one client could take part in every round and the tree accountant would not hold',
    );
  }
  const minSeparation = expectInt('privacy.minSeparation', obj.minSeparation, 1, 100_000, 'INVALID_TASK');
  const restartEvery = expectInt('privacy.restartEvery', obj.restartEvery ?? 0, 0, 100_000, 'INVALID_TASK');
  return { mode: 'ftrl', clipNorm, noiseMultiplier, delta, epsilonBudget, minSeparation, restartEvery };
}

/**
 * Check an untrusted privacy block of a task and return it normalized (only the fields its
 * mode uses). Refuses, with INVALID_TASK and a message naming the field: NaN or infinite
 * numbers, a negative noise multiplier, delta outside (0, 1), a budget at or below zero,
 * a missing or doubled clip setting, and combinations that cannot work (no noise under
 * 'distributed', adaptive clipping under 'local', bit noise too small for the budget split
 * of adaptive clipping, a budget below the cost of one local report). Fields of other
 * modes are ignored, as unknown fields are elsewhere in a task.
 */
export function validatePrivacySettings(input: unknown): PrivacySettings {
  const obj = expectObject('privacy', input, 'INVALID_TASK');
  const mode = expectOneOf('privacy.mode', obj.mode, PRIVACY_MODES, 'INVALID_TASK');
  if (mode === 'off') return { mode, ...validateClip(obj, false) };

  const delta = expectOpenUnit('privacy.delta', obj.delta);
  const epsilonBudget = expectPositive('privacy.epsilonBudget', obj.epsilonBudget, 'INVALID_TASK');

  if (mode === 'local') {
    if (obj.adaptive !== undefined) {
      throw invalid(
        '"privacy.adaptive" is not available in mode "local": the clipping bit would leak without central noise',
      );
    }
    const clipNorm = expectPositive('privacy.clipNorm', obj.clipNorm, 'INVALID_TASK');
    const epsilonPerReport = expectPositive('privacy.epsilonPerReport', obj.epsilonPerReport, 'INVALID_TASK');
    if (epsilonPerReport > epsilonBudget) {
      throw invalid(
        `"privacy.epsilonPerReport" (${epsilonPerReport}) exceeds "privacy.epsilonBudget" (${epsilonBudget}): no report could be sent`,
      );
    }
    return { mode, clipNorm, epsilonPerReport, delta, epsilonBudget };
  }

  const noiseMultiplier = expectNonNegative('privacy.noiseMultiplier', obj.noiseMultiplier, 'INVALID_TASK');
  if (noiseMultiplier === 0) {
    throw invalid(
      `"privacy.noiseMultiplier" is 0 in mode "${mode}": no noise spends an infinite epsilon; use mode "off" to train without differential privacy`,
    );
  }
  if (mode === 'ftrl') return validateFtrl(obj, noiseMultiplier, delta, epsilonBudget);
  const clip = validateClip(obj, true) as ClipSettings;
  const bitNoiseStd = clip.adaptive?.bitNoiseStd;
  if (bitNoiseStd !== undefined && 2 * bitNoiseStd <= noiseMultiplier) {
    throw invalid(
      `"privacy.adaptive.bitNoiseStd" (${bitNoiseStd}) must exceed noiseMultiplier / 2 (${noiseMultiplier / 2}) so the clipping bits fit in the privacy budget (Andrew et al. 2021)`,
    );
  }
  return { mode, noiseMultiplier, ...clip, delta, epsilonBudget };
}
