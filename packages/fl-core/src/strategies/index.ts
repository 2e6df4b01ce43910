export type { AdaptiveName, AdaptiveOptions } from './adaptive.ts';
export {
  ADAPTIVE_DEFAULTS,
  createAdaptive,
  createFedAdagrad,
  createFedAdam,
  createFedYogi,
} from './adaptive.ts';
export type { CompatibilityInput, StrategyConfig } from './config.ts';
export { checkCompatibility, validateStrategyConfig } from './config.ts';
export type { OptimizerConfig } from './create.ts';
export { createStrategy } from './create.ts';
export type { FedNovaInput } from './fednova.ts';
export {
  expectSteps,
  fedNovaAggregate,
  fedNovaFromSums,
  MAX_LOCAL_STEPS,
  normalizeBySteps,
} from './fednova.ts';
export { addProximalGradient, proximalGradient, proximalTerm, validateProximalMu } from './fedprox.ts';
export type { KrumSelection } from './krum.ts';
export { krum, krumMinUpdates, krumScores, multiKrum } from './krum.ts';
export { coordinateMedian } from './median.ts';
export { boundUpdateNorm, normBoundedMean } from './norm-bound.ts';
export type { RobustAggregate, RobustConfig, RobustKind } from './robust.ts';
export { ROBUST_KINDS, robustAggregate, robustMinUpdates } from './robust.ts';
export type {
  ScaffoldClientInput,
  ScaffoldClientUpdate,
  ScaffoldServerInput,
  ScaffoldServerState,
} from './scaffold.ts';
export {
  scaffoldClientUpdate,
  scaffoldCorrection,
  scaffoldServerControl,
  scaffoldServerUpdate,
} from './scaffold.ts';
export type { ControlStep, ServerStrategy } from './server.ts';
export { CONTROL_STATE_KEY, createServerStrategy } from './server.ts';
export type { FedAvgMOptions, FedAvgOptions } from './server-sgd.ts';
export { createFedAvg, createFedAvgM } from './server-sgd.ts';
export type { StalenessConfig } from './staleness.ts';
export { DEFAULT_STALENESS, stalenessWeight } from './staleness.ts';
export type { Strategy, StrategyName, StrategyState } from './strategy.ts';
export { STRATEGY_NAMES } from './strategy.ts';
export { trimmedMean } from './trimmed-mean.ts';
