import { PollenError } from '../errors.ts';
import { assertFinite, assertLength, expectInt } from '../validate.ts';

/** The server optimizers a task can name. */
export type StrategyName = 'fedavg' | 'fedavgm' | 'fedadam' | 'fedyogi' | 'fedadagrad';

/** Every strategy name, in the order the dashboard lists them. */
export const STRATEGY_NAMES: readonly StrategyName[] = [
  'fedavg',
  'fedavgm',
  'fedadam',
  'fedyogi',
  'fedadagrad',
];

/**
 * A strategy's persistent state as a plain object of vectors and numbers, so the coordinator
 * can store it next to the model version it produced and restore it after a restart.
 */
export type StrategyState = Readonly<Record<string, Float32Array | number>>;

/**
 * A server-side strategy: the server optimizer of the FedOpt framework (Reddi et al. 2021,
 * "Adaptive Federated Optimization", Algorithm 1). Each round the coordinator hands it the
 * current global weights x_t and the aggregated client delta
 * Delta_t = sum_k (n_k / n) (w_k - x_t) (the negative of a pseudo-gradient) and gets x_{t+1}.
 *
 * `apply` never mutates its arguments and never mutates an array it has handed out, and it
 * replaces its state only once the whole step succeeded. The coordinator persists `state()`
 * in the same transaction as the new model version; after a crash or a failed commit it calls
 * `restore()` with the last committed snapshot, so a round is never applied twice.
 */
export interface Strategy {
  readonly name: StrategyName;
  /** Number of model parameters this strategy was built for. */
  readonly dimension: number;
  /** x_{t+1} from x_t and Delta_t, advancing the internal state by one round. */
  apply(global: Float32Array, delta: Float32Array): Float32Array;
  /** A copy of the internal state, safe to persist and to hand to `restore` later. */
  state(): StrategyState;
  /** Replace the internal state with a snapshot from `state()`; refuses a malformed one. */
  restore(state: StrategyState): void;
}

/** A model size a strategy can hold: a positive integer up to 2^31 - 1 (Float32Array's limit). */
export function expectDimension(dimension: number): number {
  return expectInt('dimension', dimension, 1, 2 ** 31 - 1);
}

/** Check a step's inputs: both vectors have the strategy's dimension and are finite. */
export function checkStepInputs(dimension: number, global: Float32Array, delta: Float32Array): void {
  assertLength('global', global, dimension);
  assertLength('delta', delta, dimension);
  assertFinite('global', global);
  assertFinite('delta', delta);
}

/** Read a vector of `dimension` finite values from a snapshot, as a private copy. */
export function readStateVector(state: StrategyState, key: string, dimension: number): Float32Array {
  const value = state[key];
  if (!(value instanceof Float32Array)) {
    throw new PollenError('INVALID_ARGUMENT', `strategy state "${key}" expected Float32Array`);
  }
  assertLength(`state.${key}`, value, dimension);
  assertFinite(`state.${key}`, value);
  return value.slice();
}

/** Read a non-negative integer counter from a snapshot. */
export function readStateCount(state: StrategyState, key: string): number {
  const value = state[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new PollenError(
      'INVALID_ARGUMENT',
      `strategy state "${key}" expected non-negative integer, got ${String(value)}`,
    );
  }
  return value;
}
