import { createAdaptive } from './adaptive.ts';
import type { StrategyConfig } from './config.ts';
import { createFedAvg, createFedAvgM } from './server-sgd.ts';
import type { Strategy } from './strategy.ts';

/** The optimizer part of a checked strategy config. */
export type OptimizerConfig = Pick<
  StrategyConfig,
  'name' | 'serverLr' | 'momentum' | 'beta1' | 'beta2' | 'tau'
>;

/**
 * Build the server optimizer a checked config names (from `validateStrategyConfig` or
 * `checkCompatibility`) for a model of `dimension` parameters, in its initial state; call
 * `restore()` with the last committed snapshot when resuming a task.
 */
export function createStrategy(config: OptimizerConfig, dimension: number): Strategy {
  const { name, serverLr, beta1, tau } = config;
  switch (name) {
    case 'fedavg':
      return createFedAvg(dimension, { serverLr });
    case 'fedavgm':
      return createFedAvgM(dimension, { serverLr, momentum: config.momentum });
    case 'fedadagrad':
      return createAdaptive(name, dimension, { serverLr, beta1, tau });
    case 'fedadam':
    case 'fedyogi':
      return createAdaptive(name, dimension, { serverLr, beta1, beta2: config.beta2, tau });
  }
}
