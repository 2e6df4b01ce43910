import { PollenError } from './errors.ts';
import type { PrivacySettings } from './privacy/settings.ts';
import type { StrategyConfig } from './strategies/config.ts';
import { expectInt, expectOneOf } from './validate.ts';

/**
 * How a task's rounds are scheduled:
 * - 'sync': a sampled cohort per round, collected until quorum, target or deadline; up to
 *   `maxInFlight` rounds may overlap (pipelining), each aggregate weighted by its staleness
 *   when it is applied (Xie, Koyejo and Gupta 2019).
 * - 'buffered': FedBuff (Nguyen et al. 2022, "Federated Learning with Buffered Asynchronous
 *   Aggregation"): up to `concurrency` clients hold the current model at once, every update is
 *   weighted by its own staleness, and a version is committed whenever `bufferSize` (K) are in.
 */
export type RoundMode = 'sync' | 'buffered';
export const ROUND_MODES: readonly RoundMode[] = ['sync', 'buffered'];

/** The scheduling part of a task's `rounds` block, checked, with defaults filled in. */
export interface RoundSchedule {
  readonly mode: RoundMode;
  /** sync: rounds collecting updates at the same time (1: one after another). 1 in buffered mode. */
  readonly maxInFlight: number;
  /** buffered: K, the updates each committed version aggregates. 0 in sync mode. */
  readonly bufferSize: number;
  /** buffered: clients holding the model at the same time. 0 in sync mode. */
  readonly concurrency: number;
}

const CODE = 'INVALID_TASK';
export const MAX_IN_FLIGHT = 16;
const MAX_CLIENTS = 100_000;

/**
 * Check the scheduling fields of an untrusted `rounds` block. A field of the other mode is
 * refused unless it holds the value a checked block records for it (1 for maxInFlight, 0 for
 * bufferSize and concurrency), so a checked block validates again to itself.
 */
export function validateRoundSchedule(
  rd: Record<string, unknown>,
  cohort: { readonly cohortSize: number; readonly overSelection: number },
): RoundSchedule {
  const mode = expectOneOf('rounds.mode', rd.mode ?? 'sync', ROUND_MODES, CODE);
  if (mode === 'sync') {
    for (const key of ['bufferSize', 'concurrency'] as const) {
      if (rd[key] !== undefined && rd[key] !== 0) {
        throw new PollenError(CODE, `"rounds.${key}" applies to rounds.mode "buffered" only`);
      }
    }
    return {
      mode,
      maxInFlight: expectInt('rounds.maxInFlight', rd.maxInFlight ?? 1, 1, MAX_IN_FLIGHT, CODE),
      bufferSize: 0,
      concurrency: 0,
    };
  }
  if (rd.maxInFlight !== undefined && rd.maxInFlight !== 1) {
    throw new PollenError(
      CODE,
      '"rounds.maxInFlight" applies to rounds.mode "sync": buffered mode has no rounds to overlap, set rounds.concurrency instead',
    );
  }
  const concurrency = expectInt(
    'rounds.concurrency',
    rd.concurrency ?? Math.ceil(cohort.cohortSize * cohort.overSelection),
    1,
    MAX_CLIENTS,
    CODE,
  );
  const bufferSize = expectInt('rounds.bufferSize', rd.bufferSize ?? cohort.cohortSize, 1, MAX_CLIENTS, CODE);
  if (bufferSize > concurrency) {
    throw new PollenError(
      CODE,
      `"rounds.bufferSize" (${bufferSize}) cannot exceed "rounds.concurrency" (${concurrency}): a client adds at most one update to each buffer`,
    );
  }
  return { mode, maxInFlight: 1, bufferSize, concurrency };
}

/**
 * Refuse, with INVALID_TASK and what to change, the combinations buffered mode cannot run
 * (docs/design.md "What combines with what": refused when the task is created, never
 * silently degraded):
 * - secure aggregation: FedBuff weighs and folds in each update on its own, SecAgg+ reveals
 *   only a cohort's sum once the cohort is complete (Bonawitz et al. 2017);
 * - robust aggregation: the robust rules need a fixed set of updates to compare;
 * - SCAFFOLD: its server control variate update assumes synchronous cohorts;
 * - differential privacy with accounting ('distributed' or 'local'): the accountant charges a
 *   Poisson sampling rate q per round and the noise is calibrated to a round's expected
 *   reports; FedBuff has neither (clients are served as they arrive, several buffers may hold
 *   the same client), so the ledger could not be kept correct. Adaptive clipping likewise
 *   releases a noised bit count per round. Plain clipping (mode 'off' with a clipNorm) is fine.
 */
export function checkRoundModeCompatibility(input: {
  readonly schedule: RoundSchedule;
  readonly strategy: StrategyConfig;
  readonly privacy: PrivacySettings;
  readonly secureAggregation: boolean;
}): void {
  const { schedule, strategy, privacy } = input;
  if (schedule.mode !== 'buffered') return;
  if (input.secureAggregation) {
    throw new PollenError(
      CODE,
      'buffered asynchronous aggregation (FedBuff) weighs each update by its own staleness, but secure aggregation reveals only the sum of a complete cohort: turn secure aggregation off or set rounds.mode to "sync"',
    );
  }
  if (strategy.robust.kind !== 'none') {
    throw new PollenError(
      CODE,
      `robust aggregation "${strategy.robust.kind}" compares a fixed cohort of updates, which buffered mode does not have: set strategy.robust.kind to "none" or rounds.mode to "sync"`,
    );
  }
  if (strategy.scaffold) {
    throw new PollenError(
      CODE,
      'SCAFFOLD updates its server control variate from synchronous cohorts: set strategy.scaffold to false or rounds.mode to "sync"',
    );
  }
  if (privacy.mode !== 'off') {
    throw new PollenError(
      CODE,
      `privacy mode "${privacy.mode}" charges each round a Poisson sampling rate and calibrates its noise to the round's expected reports; buffered mode serves clients as they arrive, so its epsilon could not be accounted correctly: set privacy.mode to "off" or rounds.mode to "sync"`,
    );
  }
  if (privacy.adaptive !== undefined) {
    throw new PollenError(
      CODE,
      'adaptive clipping releases a noised count of clipping bits per round, which buffered mode does not have: use a fixed privacy.clipNorm or rounds.mode "sync"',
    );
  }
}
