import { PollenError } from '../errors.ts';
import type { RoundSchedule } from '../round-mode.ts';
import type { StrategyConfig } from '../strategies/config.ts';
import { expectInt, expectNonNegative, expectPositive } from '../validate.ts';
import { adaptiveNoiseMultiplier, defaultBitNoiseStd } from './adaptive-clip.ts';
import { distributedNoiseStd, localNoiseStd } from './noise.ts';
import type { PrivacySettings } from './settings.ts';

/**
 * What one round of a task's privacy settings asks of its clients and costs its ledger. The
 * coordinator computes it when it selects a round; the browser only applies what it is told.
 */

/** The noise a round's clients add and the noise multiplier the accountant charges for it. */
export interface RoundNoise {
  /** Standard deviation of the Gaussian noise each client adds to every coordinate. */
  readonly noiseStd: number;
  /**
   * z charged to the ledger per committed round: the task's z in mode 'distributed' (the
   * clipping bits of adaptive clipping included, Andrew et al. 2021, Section 3), sigma / (2C)
   * in mode 'local' (sensitivity 2C of one report), the tree nodes' z in mode 'ftrl' (the
   * coordinator's noise, not the clients'), 0 when no noise is added.
   */
  readonly noiseMultiplier: number;
  /** sigma_b, the noise on the sum of clipping bits; 0 without adaptive clipping. */
  readonly bitNoiseStd: number;
}

/** The clip norm a task starts with: its fixed C or the adaptive initial one; null when it does not clip. */
export function initialClipNorm(settings: PrivacySettings): number | null {
  if (settings.mode === 'local' || settings.mode === 'ftrl') return settings.clipNorm;
  return settings.clipNorm ?? settings.adaptive?.initialClip ?? null;
}

/**
 * sigma_b for a round with `expectedClients` expected reports: the task's own, or the paper's
 * m / 20 raised to z when the cohort is small, so that 2 sigma_b > z holds and the bits never
 * cost more than a quarter of the round's privacy (with sigma_b = z, (2 sigma_b)^-2 = z^-2 / 4).
 */
export function bitNoiseStdFor(settings: PrivacySettings, expectedClients: number): number {
  if (settings.mode === 'local' || settings.mode === 'ftrl' || !settings.adaptive) return 0;
  if (settings.adaptive.bitNoiseStd !== undefined) return settings.adaptive.bitNoiseStd;
  if (settings.mode === 'off') return 0;
  return Math.max(defaultBitNoiseStd(expectedClients), settings.noiseMultiplier);
}

/**
 * The round's noise. `minReports` is m, the fewest reports the round may commit with: in
 * mode 'distributed' each client adds z*C/sqrt(m), so any m' >= m survivors sum to noise of
 * std at least z*C (Kairouz, Liu and Steinke 2021). With adaptive clipping the updates use
 * z_Delta = (z^-2 - (2 sigma_b)^-2)^-1/2 so that updates and bits together cost z.
 */
export function roundNoise(
  settings: PrivacySettings,
  clipNorm: number,
  minReports: number,
  expectedClients: number,
): RoundNoise {
  expectPositive('clipNorm', clipNorm);
  expectInt('minReports', minReports, 1, Number.MAX_SAFE_INTEGER);
  expectPositive('expectedClients', expectedClients);
  const bitNoiseStd = bitNoiseStdFor(settings, expectedClients);
  if (settings.mode === 'off') return { noiseStd: 0, noiseMultiplier: 0, bitNoiseStd };
  // DP-FTRL: clients only clip; the coordinator adds each tree node's noise z*C to the sum.
  if (settings.mode === 'ftrl')
    return { noiseStd: 0, noiseMultiplier: settings.noiseMultiplier, bitNoiseStd: 0 };
  if (settings.mode === 'local') {
    const noiseStd = localNoiseStd({ epsilon: settings.epsilonPerReport, delta: settings.delta, clipNorm });
    return { noiseStd, noiseMultiplier: noiseStd / (2 * clipNorm), bitNoiseStd: 0 };
  }
  const z = settings.noiseMultiplier;
  const zUpdates = settings.adaptive ? adaptiveNoiseMultiplier(z, bitNoiseStd) : z;
  return {
    noiseStd: distributedNoiseStd({ noiseMultiplier: zUpdates, clipNorm, minSurvivors: minReports }),
    noiseMultiplier: z,
    bitNoiseStd,
  };
}

// P(||g|| > sqrt(d) + t) <= exp(-t^2 / 2) for g ~ N(0, I_d): the norm is 1-Lipschitz and
// E||g|| <= sqrt(d) (Gaussian concentration, Tsirelson, Ibragimov and Sudakov 1976). t = 6.7
// refuses an honest report with probability below 2e-10.
const NOISE_TAIL = 6.7;

/**
 * The largest L2 norm an honest report can have: the clipped update (at most C) plus noise of
 * std `noiseStd` in `dimension` coordinates, bounded as above, times (1 + slack) for the
 * codec's rounding. A coordinator refuses anything larger; it cannot tell a clipped and noised
 * report from an unclipped one that fits under this bound.
 */
export function noisedNormBound(clipNorm: number, noiseStd: number, dimension: number, slack = 0): number {
  expectPositive('clipNorm', clipNorm);
  expectNonNegative('noiseStd', noiseStd);
  expectInt('dimension', dimension, 1, Number.MAX_SAFE_INTEGER);
  expectNonNegative('slack', slack);
  const noise = noiseStd === 0 ? 0 : noiseStd * (Math.sqrt(dimension) + NOISE_TAIL);
  return (clipNorm + noise) * (1 + slack);
}

/**
 * Refuse, with INVALID_TASK, strategies that break a privacy mode's guarantee: SCAFFOLD's
 * Delta c_i would travel unclipped and without noise; under 'distributed' noise, a robust rule
 * combines individually noised reports with a rule other than the sum the noise is calibrated
 * for. Under 'local' every report is private on its own, so any rule is post-processing.
 */
export function checkPrivacyCompatibility(
  settings: PrivacySettings,
  strategy: StrategyConfig,
  schedule?: Pick<RoundSchedule, 'maxInFlight'>,
): void {
  if (settings.mode === 'off') return;
  if (settings.mode === 'ftrl') checkFtrlCompatibility(strategy, schedule);
  if (strategy.scaffold) {
    throw new PollenError(
      'INVALID_TASK',
      `SCAFFOLD's control-variate deltas are sent without clipping or noise, which privacy mode "${settings.mode}" cannot account for: set strategy.scaffold to false or privacy.mode to "off"`,
    );
  }
  if (settings.mode === 'distributed' && strategy.robust.kind !== 'none') {
    throw new PollenError(
      'INVALID_TASK',
      `distributed noise is calibrated for the sum of the reports, but robust aggregation "${strategy.robust.kind}" does not sum them: set strategy.robust.kind to "none" or use privacy.mode "local"`,
    );
  }
}

/**
 * DP-FTRL's server step is FTRL with momentum on the tree's prefix sums (ftrl.ts): it takes
 * strategy.serverLr and strategy.momentum, so only 'fedavg' (momentum 0) and 'fedavgm' fit;
 * the tree's noise is on the sum, so robust rules cannot combine the reports; and rounds
 * must commit one at a time, in order, as the tree's leaves and the separation rule count them.
 */
function checkFtrlCompatibility(
  strategy: StrategyConfig,
  schedule?: Pick<RoundSchedule, 'maxInFlight'>,
): void {
  if (strategy.name !== 'fedavg' && strategy.name !== 'fedavgm') {
    throw new PollenError(
      'INVALID_TASK',
      `privacy mode "ftrl" makes the server step FTRL with momentum on the noisy prefix sums; strategy "${strategy.name}" has no such form: use strategy.name "fedavgm" (or "fedavg") or another privacy.mode`,
    );
  }
  if (strategy.robust.kind !== 'none') {
    throw new PollenError(
      'INVALID_TASK',
      `the tree's noise is added to the sum of the reports, but robust aggregation "${strategy.robust.kind}" does not sum them: set strategy.robust.kind to "none"`,
    );
  }
  if (schedule && schedule.maxInFlight > 1) {
    throw new PollenError(
      'INVALID_TASK',
      `privacy mode "ftrl" adds each round to the tree as the next leaf and keeps clients ${'"minSeparation"'} rounds apart by that order; overlapping rounds (rounds.maxInFlight = ${schedule.maxInFlight}) would commit out of order: set rounds.maxInFlight to 1`,
    );
  }
}
