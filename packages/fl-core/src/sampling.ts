import { type Rng, shuffle } from './rng.ts';
import { expectInRange, expectInt } from './validate.ts';

/** How a round's cohort is drawn from the eligible population. */
export interface SamplingSpec {
  /** Poisson sampling rate: each eligible client is selected independently with this probability. */
  readonly rate: number;
  /** Fewer selected than this: top up uniformly from the rest (a demo, a small population). */
  readonly minCohort: number;
  /** More selected than this: keep a uniform subset. */
  readonly maxCohort: number;
  /** Selection is inflated by this factor to absorb expected drop-outs. */
  readonly overSelection: number;
}

/**
 * Select a cohort by Poisson sampling (each client independently with probability
 * rate * overSelection), the sampling that privacy amplification by subsampling assumes
 * (Mironov, Talwar, Zhang 2019; Abadi et al. 2016), then clamp it to [minCohort, maxCohort]
 * for operability. Clamping changes the sampling distribution: the DP accountant is exact
 * only for rounds that were not clamped, and the coordinator records which ones were.
 */
export function poissonCohort<T>(
  population: readonly T[],
  spec: SamplingSpec,
  rng: Rng,
): { cohort: T[]; clamped: 'none' | 'min' | 'max'; rate: number } {
  expectInRange('rate', spec.rate, 0, 1);
  expectInt('minCohort', spec.minCohort, 0, 10_000_000);
  expectInt('maxCohort', spec.maxCohort, Math.max(1, spec.minCohort), 10_000_000);
  expectInRange('overSelection', spec.overSelection, 1, 10);
  const rate = Math.min(1, spec.rate * spec.overSelection);
  const picked: T[] = [];
  const rest: T[] = [];
  for (const item of population) (rng() < rate ? picked : rest).push(item);
  if (picked.length < spec.minCohort) {
    const topUp = shuffle(rest, rng).slice(0, spec.minCohort - picked.length);
    return { cohort: [...picked, ...topUp], clamped: 'min', rate };
  }
  if (picked.length > spec.maxCohort) {
    return { cohort: shuffle(picked, rng).slice(0, spec.maxCohort), clamped: 'max', rate };
  }
  return { cohort: picked, clamped: 'none', rate };
}

/**
 * Pace steering (Bonawitz et al. 2019, "Towards Federated Learning at Scale", section 2.3):
 * tell a client that was not selected when to check in again, so that a large population
 * does not reconnect all at once. The suggested delay spreads the population over the
 * expected time until it is likely to be selected, with jitter, within [minMs, maxMs].
 */
export function suggestedRetryMs(
  options: { populationSize: number; cohortSize: number; roundMs: number; minMs: number; maxMs: number },
  rng: Rng,
): number {
  const { populationSize, cohortSize, roundMs, minMs, maxMs } = options;
  expectInt('populationSize', populationSize, 0, 100_000_000);
  expectInt('cohortSize', cohortSize, 1, 10_000_000);
  expectInRange('roundMs', roundMs, 0, 86_400_000);
  expectInRange('minMs', minMs, 0, 86_400_000);
  expectInRange('maxMs', maxMs, minMs, 86_400_000);
  // Rounds until a given client is expected to be picked, times a round's duration.
  const expected = (Math.max(populationSize, cohortSize) / cohortSize) * roundMs;
  const jittered = expected * (0.5 + rng());
  return Math.round(Math.min(maxMs, Math.max(minMs, jittered)));
}
