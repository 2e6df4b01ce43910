import { expectPositive } from '../validate.ts';
import { expectInHalfOpen } from './expect.ts';
import type { Strategy, StrategyState } from './strategy.ts';
import { checkStepInputs, expectDimension, readStateCount, readStateVector } from './strategy.ts';

/** Options of FedAvg's server step. */
export interface FedAvgOptions {
  /** Server learning rate eta; 1 (the default) is McMahan et al.'s FedAvg exactly. */
  readonly serverLr?: number;
}

/** Options of FedAvgM's server step. */
export interface FedAvgMOptions {
  /** Server learning rate eta (default 1). */
  readonly serverLr?: number;
  /** Server momentum beta in [0, 1) (default 0.9). */
  readonly momentum?: number;
}

/**
 * FedAvg's server step (McMahan et al. 2017, "Communication-Efficient Learning of Deep
 * Networks from Decentralized Data"), written as server SGD in the FedOpt framework of Reddi
 * et al. 2021: x_{t+1} = x_t + eta * Delta_t. With eta = 1 the new model is the example-weighted
 * average of the client models. State: the number of rounds applied.
 */
export function createFedAvg(dimension: number, options: FedAvgOptions = {}): Strategy {
  expectDimension(dimension);
  const lr = expectPositive('serverLr', options.serverLr ?? 1);
  let rounds = 0;
  return {
    name: 'fedavg',
    dimension,
    apply(global: Float32Array, delta: Float32Array): Float32Array {
      checkStepInputs(dimension, global, delta);
      const out = new Float32Array(dimension);
      for (let i = 0; i < dimension; i++) out[i] = global[i]! + lr * delta[i]!;
      rounds++;
      return out;
    },
    state(): StrategyState {
      return { rounds };
    },
    restore(state: StrategyState): void {
      rounds = readStateCount(state, 'rounds');
    },
  };
}

/**
 * FedAvgM, FedAvg with server momentum (Hsu, Qi and Brown 2019, "Measuring the Effects of
 * Non-Identical Data Distribution for Federated Visual Classification"):
 * m_t = beta * m_{t-1} + Delta_t, x_{t+1} = x_t + eta * m_t, with m_{-1} = 0. Our Delta is the
 * negative pseudo-gradient, hence the plus signs. With beta = 0 it is FedAvg.
 * State: `rounds` and the momentum buffer `m`.
 */
export function createFedAvgM(dimension: number, options: FedAvgMOptions = {}): Strategy {
  expectDimension(dimension);
  const lr = expectPositive('serverLr', options.serverLr ?? 1);
  const beta = expectInHalfOpen('momentum', options.momentum ?? 0.9, 0, 1);
  let rounds = 0;
  let m: Float32Array = new Float32Array(dimension);
  return {
    name: 'fedavgm',
    dimension,
    apply(global: Float32Array, delta: Float32Array): Float32Array {
      checkStepInputs(dimension, global, delta);
      const nextM = new Float32Array(dimension);
      const out = new Float32Array(dimension);
      for (let i = 0; i < dimension; i++) {
        const mi = Math.fround(beta * m[i]! + delta[i]!);
        nextM[i] = mi;
        out[i] = global[i]! + lr * mi;
      }
      m = nextM;
      rounds++;
      return out;
    },
    state(): StrategyState {
      return { rounds, m: m.slice() };
    },
    restore(state: StrategyState): void {
      const nextM = readStateVector(state, 'm', dimension);
      rounds = readStateCount(state, 'rounds');
      m = nextM;
    },
  };
}
