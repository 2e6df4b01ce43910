import { PollenError } from '../errors.ts';
import { expectPositive } from '../validate.ts';
import { expectInHalfOpen } from './expect.ts';
import type { Strategy, StrategyState } from './strategy.ts';
import { checkStepInputs, expectDimension, readStateCount, readStateVector } from './strategy.ts';

/** The three adaptive server optimizers of Reddi et al. 2021. */
export type AdaptiveName = 'fedadam' | 'fedyogi' | 'fedadagrad';

/** Hyper-parameters of Reddi et al. 2021, Algorithm 2. */
export interface AdaptiveOptions {
  /** Server learning rate eta (default 0.01; tune it, the paper sweeps it per task). */
  readonly serverLr?: number;
  /** First-moment decay beta1 in [0, 1) (default 0.9; 0 for FedAdagrad, which has no momentum). */
  readonly beta1?: number;
  /** Second-moment decay beta2 in [0, 1) (default 0.99); FedAdagrad has none and refuses it. */
  readonly beta2?: number;
  /** Adaptivity tau > 0 (default 1e-3): added to sqrt(v) and the initial v is tau^2. */
  readonly tau?: number;
}

/** Default hyper-parameters, per optimizer. */
export const ADAPTIVE_DEFAULTS: Readonly<Record<AdaptiveName, Required<AdaptiveOptions>>> = {
  fedadam: { serverLr: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 },
  fedyogi: { serverLr: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 },
  fedadagrad: { serverLr: 0.01, beta1: 0, beta2: 0, tau: 1e-3 },
};

/**
 * One of FedAdagrad, FedYogi, FedAdam exactly as Algorithm 2 of Reddi et al. 2021,
 * "Adaptive Federated Optimization" (ICLR), with Delta_t the aggregated client delta:
 *
 *   m_t = beta1 * m_{t-1} + (1 - beta1) * Delta_t                       (m_{-1} = 0)
 *   v_t = v_{t-1} + Delta_t^2                                          FedAdagrad
 *   v_t = v_{t-1} - (1 - beta2) * Delta_t^2 * sign(v_{t-1} - Delta_t^2) FedYogi
 *   v_t = beta2 * v_{t-1} + (1 - beta2) * Delta_t^2                     FedAdam
 *   x_{t+1} = x_t + eta * m_t / (sqrt(v_t) + tau)                      (v_{-1} = tau^2)
 *
 * All elementwise. No bias correction: Algorithm 2 has none; it starts v at tau^2 instead.
 * Use FedAdagrad with beta1 = 0 for the classic momentum-free Adagrad.
 * State: `rounds`, `m` and `v`.
 */
export function createAdaptive(
  name: AdaptiveName,
  dimension: number,
  options: AdaptiveOptions = {},
): Strategy {
  expectDimension(dimension);
  const defaults = ADAPTIVE_DEFAULTS[name];
  if (!defaults)
    throw new PollenError('INVALID_ARGUMENT', `unknown adaptive optimizer ${JSON.stringify(name)}`);
  if (name === 'fedadagrad' && options.beta2 !== undefined) {
    throw new PollenError('INVALID_ARGUMENT', '"beta2" does not apply to fedadagrad, which sums Delta^2');
  }
  const lr = expectPositive('serverLr', options.serverLr ?? defaults.serverLr);
  const beta1 = expectInHalfOpen('beta1', options.beta1 ?? defaults.beta1, 0, 1);
  const beta2 = expectInHalfOpen('beta2', options.beta2 ?? defaults.beta2, 0, 1);
  const tau = expectPositive('tau', options.tau ?? defaults.tau);
  let rounds = 0;
  let m: Float32Array = new Float32Array(dimension);
  let v: Float32Array = new Float32Array(dimension).fill(tau * tau);
  return {
    name,
    dimension,
    apply(global: Float32Array, delta: Float32Array): Float32Array {
      checkStepInputs(dimension, global, delta);
      const nextM = new Float32Array(dimension);
      const nextV = new Float32Array(dimension);
      const out = new Float32Array(dimension);
      for (let i = 0; i < dimension; i++) {
        const d = delta[i]!;
        const d2 = d * d;
        const prevV = v[i]!;
        let vi: number;
        if (name === 'fedadam') vi = beta2 * prevV + (1 - beta2) * d2;
        else if (name === 'fedyogi') vi = prevV - (1 - beta2) * d2 * Math.sign(prevV - d2);
        else vi = prevV + d2;
        // Round to float32 before use so the step taken is exactly the one the state records.
        const mi = Math.fround(beta1 * m[i]! + (1 - beta1) * d);
        vi = Math.fround(vi);
        nextM[i] = mi;
        nextV[i] = vi;
        out[i] = global[i]! + (lr * mi) / (Math.sqrt(vi) + tau);
      }
      m = nextM;
      v = nextV;
      rounds++;
      return out;
    },
    state(): StrategyState {
      return { rounds, m: m.slice(), v: v.slice() };
    },
    restore(state: StrategyState): void {
      const nextM = readStateVector(state, 'm', dimension);
      const nextV = readStateVector(state, 'v', dimension);
      if (nextV.some((x) => x < 0)) {
        throw new PollenError('INVALID_ARGUMENT', 'strategy state "v" expected non-negative values');
      }
      rounds = readStateCount(state, 'rounds');
      m = nextM;
      v = nextV;
    },
  };
}

/** FedAdam (Reddi et al. 2021, Algorithm 2): Adam on the server over aggregated client deltas. */
export function createFedAdam(dimension: number, options: AdaptiveOptions = {}): Strategy {
  return createAdaptive('fedadam', dimension, options);
}

/**
 * FedYogi (Reddi et al. 2021, Algorithm 2): Yogi (Zaheer et al. 2018) on the server; v moves
 * additively toward Delta^2, so it grows slower than Adam's after a large update.
 */
export function createFedYogi(dimension: number, options: AdaptiveOptions = {}): Strategy {
  return createAdaptive('fedyogi', dimension, options);
}

/** FedAdagrad (Reddi et al. 2021, Algorithm 2): Adagrad on the server; v sums Delta^2. */
export function createFedAdagrad(dimension: number, options: AdaptiveOptions = {}): Strategy {
  return createAdaptive('fedadagrad', dimension, options);
}
