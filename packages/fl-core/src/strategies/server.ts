import { PollenError } from '../errors.ts';
import { lrAt } from '../schedule.ts';
import { assertFinite, assertLength } from '../validate.ts';
import type { StrategyConfig } from './config.ts';
import { createStrategy } from './create.ts';
import { scaffoldServerControl } from './scaffold.ts';
import type { Strategy, StrategyState } from './strategy.ts';
import { readStateVector } from './strategy.ts';

/** SCAFFOLD's inputs to one server step. */
export interface ControlStep {
  /** Mean over the reporting clients of their Delta c_i (unweighted, as in Algorithm 1). */
  readonly meanDelta: Float32Array;
  /** |S| / N in (0, 1]: reporting clients over the task's population. */
  readonly fraction: number;
}

/**
 * A task's whole server side after aggregation: the server optimizer its config names and,
 * when SCAFFOLD is on, the server control variate c. Robust rules run before it, on the
 * individual updates (`robustAggregate`); what reaches `apply` is one aggregated delta.
 * One object so the coordinator and the simulations persist and restore a single state.
 */
export interface ServerStrategy {
  readonly config: StrategyConfig;
  readonly dimension: number;
  /** A copy of SCAFFOLD's c, to send with a round; null when SCAFFOLD is off. */
  control(): Float32Array | null;
  /**
   * x_{t+1} from x_t and the round's aggregated delta, advancing the optimizer; under
   * SCAFFOLD also c <- c + (|S| / N) * mean Delta c_i (Karimireddy et al. 2020, Algorithm 1).
   * Atomic: on a throw nothing changed.
   */
  apply(global: Float32Array, delta: Float32Array, control?: ControlStep): Float32Array;
  /** A snapshot of the optimizer state and c, to persist next to the version it produced. */
  state(): StrategyState;
  /** Replace the state with a snapshot from `state()`; refuses a malformed one, changing nothing. */
  restore(state: StrategyState): void;
}

function readRounds(state: StrategyState): number {
  const rounds = state.rounds;
  return typeof rounds === 'number' ? rounds : 0;
}

/** The key of SCAFFOLD's c in a `ServerStrategy` snapshot, apart from the optimizer's keys. */
export const CONTROL_STATE_KEY = 'scaffold.c';

/**
 * Build a task's server side from its checked strategy config for a model of `dimension`
 * parameters, in its initial state (c = 0 under SCAFFOLD, as Algorithm 1 starts).
 */
export function createServerStrategy(config: StrategyConfig, dimension: number): ServerStrategy {
  const optimizer: Strategy = createStrategy(config, dimension);
  let c: Float32Array | null = config.scaffold ? new Float32Array(dimension) : null;
  return {
    config,
    dimension,
    control(): Float32Array | null {
      return c ? c.slice() : null;
    },
    apply(global: Float32Array, delta: Float32Array, control?: ControlStep): Float32Array {
      let nextC: Float32Array | null = null;
      if (c) {
        if (!control) throw new PollenError('INVALID_ARGUMENT', 'SCAFFOLD needs the mean Delta c_i');
        assertLength('control.meanDelta', control.meanDelta, dimension);
        assertFinite('control.meanDelta', control.meanDelta);
        nextC = scaffoldServerControl(c, control.meanDelta, control.fraction);
      } else if (control) {
        throw new PollenError('INVALID_ARGUMENT', 'a control step was given but SCAFFOLD is off');
      }
      // The round's server learning rate from the schedule: every optimizer's step is
      // x + lr * (its direction) and its state does not involve lr, so scaling the step by
      // lr_t / serverLr is the optimizer run at lr_t (schedule.ts). t = rounds applied so far.
      const t = readRounds(optimizer.state());
      const factor = lrAt(config.serverLr, config.serverSchedule, t) / config.serverLr;
      // The optimizer replaces its own state only when its step succeeds; c follows it.
      const next = optimizer.apply(global, delta);
      if (factor !== 1) {
        for (let i = 0; i < next.length; i++) next[i] = global[i]! + factor * (next[i]! - global[i]!);
      }
      if (nextC) c = nextC;
      return next;
    },
    state(): StrategyState {
      return c ? { ...optimizer.state(), [CONTROL_STATE_KEY]: c.slice() } : optimizer.state();
    },
    restore(state: StrategyState): void {
      const nextC = c ? readStateVector(state, CONTROL_STATE_KEY, dimension) : null;
      optimizer.restore(state);
      if (nextC) c = nextC;
    },
  };
}
