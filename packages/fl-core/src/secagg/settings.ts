import { PollenError } from '../errors.ts';
import { expectInRange, expectInt, expectObject } from '../validate.ts';
import { defaultSecAggNeighbours, defaultSecAggThreshold, MAX_CLIENTS } from './params.ts';

/**
 * A task's secure-aggregation block (`TaskSpec.secureAggregation`): whether updates are
 * masked (SecAgg+, Bonawitz et al. 2017 with the neighbourhoods of Bell et al. 2020), and the
 * parameters every round of the task uses. Absent from a task: updates travel in the clear.
 */
export interface SecureAggregationSettings {
  readonly enabled: true;
  /**
   * Neighbours per client on the ring, even; default `defaultSecAggNeighbours(n)` of each
   * round's cohort size n. A cohort of at most k + 1 clients uses the complete graph.
   */
  readonly k?: number;
  /** Shares that recover a secret; default `defaultSecAggThreshold(k)`. See params.ts for the trade-off. */
  readonly threshold?: number;
  /**
   * R: every coordinate of an update is clipped to [-R, R] and encoded as a fixed-point integer
   * mod 2^32, so masks cancel exactly. An update's contribution is bounded by R per coordinate,
   * which takes the place of the per-update norm check the server can no longer make.
   */
  readonly range: number;
  /** Deadline of each key stage (advertise, share) and of the unmask stage, in milliseconds. */
  readonly stageMs: number;
}

const CODE = 'INVALID_TASK';

/** Largest fixed-point width: a float32 scale resolves no finer (compression's fixed-point.ts). */
const MAX_BITS = 24;

/**
 * Check a task's `secureAggregation` block (a boolean `true` takes every default). `minClients`
 * is the smallest cohort a round may have: SecAgg needs 3 clients (with 2, the sum tells each
 * the other's update) and a threshold no larger than a client's neighbours in the smallest
 * cohort. Returns null when it is absent or disabled.
 */
export function validateSecureAggregation(
  value: unknown,
  minClients: number,
): SecureAggregationSettings | null {
  if (value === undefined || value === false) return null;
  const obj = value === true ? {} : expectObject('secureAggregation', value, CODE);
  if (obj.enabled === false) return null;
  if (obj.enabled !== undefined && obj.enabled !== true) {
    throw new PollenError(CODE, '"secureAggregation.enabled" expected boolean');
  }
  if (minClients < 3) {
    throw new PollenError(
      CODE,
      `secure aggregation needs at least 3 clients per round (with 2 the sum reveals each update), but rounds.minClients is ${minClients}`,
    );
  }
  const k = obj.k === undefined ? undefined : expectInt('secureAggregation.k', obj.k, 2, MAX_CLIENTS, CODE);
  if (k !== undefined && k % 2 !== 0) {
    throw new PollenError(
      CODE,
      `"secureAggregation.k" expected an even number (k/2 on each side of the ring), got ${k}`,
    );
  }
  const threshold =
    obj.threshold === undefined
      ? undefined
      : expectInt('secureAggregation.threshold', obj.threshold, 2, k ?? MAX_CLIENTS, CODE);
  if (threshold !== undefined && threshold > minClients - 1) {
    throw new PollenError(
      CODE,
      `"secureAggregation.threshold" (${threshold}) exceeds the neighbours a client has in the smallest cohort (rounds.minClients - 1 = ${minClients - 1})`,
    );
  }
  const range = expectInRange('secureAggregation.range', obj.range ?? 1, 1e-6, 1e6, CODE);
  const stageMs = expectInt('secureAggregation.stageMs', obj.stageMs ?? 10_000, 100, 600_000, CODE);
  return {
    enabled: true,
    ...(k === undefined ? {} : { k }),
    ...(threshold === undefined ? {} : { threshold }),
    range,
    stageMs,
  };
}

/**
 * The k and t of a round of `n` clients: the task's, or the defaults; a k that reaches n - 1
 * becomes n - 1 (the complete graph: plain SecAgg). A t above that k is refused
 * (INVALID_ARGUMENT), never lowered: task validation keeps cohorts large enough.
 */
export function roundNeighbourhood(
  settings: SecureAggregationSettings,
  n: number,
): { readonly k: number; readonly threshold: number } {
  const k = Math.min(n - 1, settings.k ?? defaultSecAggNeighbours(n));
  const threshold = settings.threshold ?? defaultSecAggThreshold(k);
  if (threshold > k) {
    throw new PollenError(
      'INVALID_ARGUMENT',
      `threshold ${threshold} exceeds the ${k} neighbours of a cohort of ${n}`,
    );
  }
  return { k, threshold };
}

/**
 * Fixed-point width for a round of `n` clients: the widest (at most 24 bits) for which the sum
 * of n encoded values still fits a signed 32-bit integer, n * (2^(bits-1) - 1) < 2^31, so the
 * server can undo the wrap-around mod 2^32 exactly.
 */
export function fixedPointBits(n: number): number {
  expectInt('n', n, 1, MAX_CLIENTS);
  return Math.min(MAX_BITS, 32 - Math.ceil(Math.log2(n)));
}
