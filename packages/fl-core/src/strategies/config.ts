import { PollenError } from '../errors.ts';
import { CONSTANT_SCHEDULE, type LrSchedule, validateLrSchedule } from '../schedule.ts';
import { expectInRange, expectInt, expectObject, expectOneOf, expectPositive } from '../validate.ts';
import { ADAPTIVE_DEFAULTS } from './adaptive.ts';
import { expectInHalfOpen } from './expect.ts';
import { validateProximalMu } from './fedprox.ts';
import type { RobustConfig, RobustKind } from './robust.ts';
import { ROBUST_KINDS, robustMinUpdates } from './robust.ts';
import type { StalenessConfig } from './staleness.ts';
import { DEFAULT_STALENESS } from './staleness.ts';
import type { StrategyName } from './strategy.ts';
import { STRATEGY_NAMES } from './strategy.ts';

/**
 * A task's strategy block, checked and with defaults filled in. Parameters the chosen optimizer
 * does not have are 0 (momentum outside fedavgm; beta1, beta2, tau outside the adaptive ones;
 * beta2 for fedadagrad).
 */
export interface StrategyConfig {
  /** The server optimizer (default 'fedavg'). */
  readonly name: StrategyName;
  /** Server learning rate (default 1 for fedavg / fedavgm, 0.01 for the adaptive ones). */
  readonly serverLr: number;
  /** FedAvgM's server momentum in [0, 1) (default 0.9). */
  readonly momentum: number;
  /** Adaptive optimizers' beta1 in [0, 1) (default 0.9; 0 for fedadagrad). */
  readonly beta1: number;
  /** FedAdam / FedYogi's beta2 in [0, 1) (default 0.99). */
  readonly beta2: number;
  /** Adaptive optimizers' tau > 0 (default 1e-3). */
  readonly tau: number;
  /** FedProx's mu >= 0, sent to clients (default 0: no proximal term). */
  readonly mu: number;
  /** SCAFFOLD control variates on (default false). */
  readonly scaffold: boolean;
  /**
   * FedNova (Wang et al. 2020): average updates normalized by each client's local steps, so
   * clients doing unequal work (time budgets) do not skew the objective (default false).
   */
  readonly fednova: boolean;
  /** The server learning rate over rounds, from `serverLr` (default constant; schedule.ts). */
  readonly serverSchedule: LrSchedule;
  /** How individual deltas are combined (default { kind: 'none' }: weighted mean). */
  readonly robust: RobustConfig;
  /** Down-weighting of late updates and overlapping rounds. */
  readonly staleness: StalenessConfig;
}

const CODE = 'INVALID_TASK';
const ADAPTIVE: readonly StrategyName[] = ['fedadam', 'fedyogi', 'fedadagrad'];

/** Which strategies each optional top-level parameter belongs to. */
const OPTIMIZER_PARAMS: Readonly<Record<'momentum' | 'beta1' | 'beta2' | 'tau', readonly StrategyName[]>> = {
  momentum: ['fedavgm'],
  beta1: ADAPTIVE,
  beta2: ['fedadam', 'fedyogi'],
  tau: ADAPTIVE,
};

/** Which robust rules each robust parameter belongs to. */
const ROBUST_PARAMS: Readonly<Record<'beta' | 'f' | 'm' | 'bound', readonly RobustKind[]>> = {
  beta: ['trimmed-mean'],
  f: ['krum', 'multi-krum'],
  m: ['multi-krum'],
  bound: ['norm-bound'],
};

function rejectUnknownKeys(path: string, obj: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw new PollenError(
        CODE,
        `"${path}.${key}" is not a known setting (expected one of ${allowed.join(', ')})`,
      );
    }
  }
}

// A setting the chosen algorithm ignores is refused rather than dropped: a typo'd or misplaced
// parameter must not silently turn one algorithm into another. Exactly 0 is let through: it is
// what a checked config records for a parameter its algorithm lacks, so a checked config (as
// stored with a task) validates again to itself.
function rejectInapplicable<K extends string>(
  path: string,
  obj: Record<string, unknown>,
  params: Readonly<Record<string, readonly K[]>>,
  chosen: K,
): void {
  for (const [key, owners] of Object.entries(params)) {
    if (obj[key] !== undefined && obj[key] !== 0 && !owners.includes(chosen)) {
      throw new PollenError(
        CODE,
        `"${path}.${key}" does not apply to ${JSON.stringify(chosen)} (only to ${owners.join(', ')})`,
      );
    }
  }
}

function validateRobust(value: unknown): RobustConfig {
  if (value === undefined) return { kind: 'none' };
  const path = 'strategy.robust';
  const obj = expectObject(path, value, CODE);
  rejectUnknownKeys(path, obj, ['kind', ...Object.keys(ROBUST_PARAMS)]);
  const kind = expectOneOf(`${path}.kind`, obj.kind ?? 'none', ROBUST_KINDS, CODE);
  rejectInapplicable(path, obj, ROBUST_PARAMS, kind);
  switch (kind) {
    case 'none':
    case 'median':
      return { kind };
    case 'trimmed-mean':
      return { kind, beta: expectInHalfOpen(`${path}.beta`, obj.beta, 0, 0.5, CODE) };
    case 'krum':
      return { kind, f: expectInt(`${path}.f`, obj.f, 0, 100_000, CODE) };
    case 'multi-krum': {
      const f = expectInt(`${path}.f`, obj.f, 0, 100_000, CODE);
      if (obj.m === undefined) return { kind, f };
      return { kind, f, m: expectInt(`${path}.m`, obj.m, 1, 100_000, CODE) };
    }
    case 'norm-bound':
      return { kind, bound: expectPositive(`${path}.bound`, obj.bound, CODE) };
  }
}

function validateStaleness(value: unknown): StalenessConfig {
  if (value === undefined) return DEFAULT_STALENESS;
  const path = 'strategy.staleness';
  const obj = expectObject(path, value, CODE);
  rejectUnknownKeys(path, obj, ['exponent', 'maxStaleness']);
  return {
    exponent: expectInRange(`${path}.exponent`, obj.exponent ?? DEFAULT_STALENESS.exponent, 0, 16, CODE),
    maxStaleness: expectInt(
      `${path}.maxStaleness`,
      obj.maxStaleness ?? DEFAULT_STALENESS.maxStaleness,
      0,
      1_000_000,
      CODE,
    ),
  };
}

/**
 * Check an untrusted strategy block of a task and fill in defaults. `undefined` (or null) means all
 * defaults (FedAvg). Idempotent: a checked config is valid input and comes back equal. Refuses with INVALID_TASK, naming the field: an unknown strategy or robust
 * rule, an unknown key, a parameter the chosen algorithm does not have, NaN or an infinite or
 * out-of-range number anywhere (negative mu, robust.beta outside [0, 0.5), ...).
 */
export function validateStrategyConfig(input: unknown): StrategyConfig {
  const obj = expectObject('strategy', input ?? {}, CODE);
  rejectUnknownKeys('strategy', obj, [
    'name',
    'serverLr',
    ...Object.keys(OPTIMIZER_PARAMS),
    'mu',
    'scaffold',
    'fednova',
    'serverSchedule',
    'robust',
    'staleness',
  ]);
  const name = expectOneOf('strategy.name', obj.name ?? 'fedavg', STRATEGY_NAMES, CODE);
  rejectInapplicable('strategy', obj, OPTIMIZER_PARAMS, name);
  const adaptive = name === 'fedadam' || name === 'fedyogi' || name === 'fedadagrad';
  const defaults = adaptive ? ADAPTIVE_DEFAULTS[name] : undefined;
  const serverLr = expectPositive('strategy.serverLr', obj.serverLr ?? defaults?.serverLr ?? 1, CODE);
  const momentum =
    name === 'fedavgm' ? expectInHalfOpen('strategy.momentum', obj.momentum ?? 0.9, 0, 1, CODE) : 0;
  const beta1 = defaults ? expectInHalfOpen('strategy.beta1', obj.beta1 ?? defaults.beta1, 0, 1, CODE) : 0;
  const beta2 =
    defaults && name !== 'fedadagrad'
      ? expectInHalfOpen('strategy.beta2', obj.beta2 ?? defaults.beta2, 0, 1, CODE)
      : 0;
  const tau = defaults ? expectPositive('strategy.tau', obj.tau ?? defaults.tau, CODE) : 0;
  const mu = validateProximalMu(obj.mu ?? 0, 'strategy.mu', CODE);
  if (obj.scaffold !== undefined && typeof obj.scaffold !== 'boolean') {
    throw new PollenError(CODE, `"strategy.scaffold" expected boolean, got ${typeof obj.scaffold}`);
  }
  const scaffold = obj.scaffold === true;
  if (obj.fednova !== undefined && typeof obj.fednova !== 'boolean') {
    throw new PollenError(CODE, `"strategy.fednova" expected boolean, got ${typeof obj.fednova}`);
  }
  const fednova = obj.fednova === true;
  const serverSchedule =
    obj.serverSchedule === undefined
      ? CONSTANT_SCHEDULE
      : validateLrSchedule('strategy.serverSchedule', obj.serverSchedule, serverLr);
  const robust = validateRobust(obj.robust);
  const staleness = validateStaleness(obj.staleness);
  return {
    name,
    serverLr,
    momentum,
    beta1,
    beta2,
    tau,
    mu,
    scaffold,
    fednova,
    serverSchedule,
    robust,
    staleness,
  };
}

/** What the rest of a task says that constrains its strategy. */
export interface CompatibilityInput {
  /** The task's strategy block, untrusted (checked with `validateStrategyConfig`). */
  readonly strategy: unknown;
  /** Whether updates are masked (SecAgg+): the server then sees only their sum. */
  readonly secureAggregation: boolean;
  /** Whether clients keep state across rounds (IndexedDB in the browser). */
  readonly persistentClientState: boolean;
  /** The round quorum, when known: Krum needs 2f + 3 updates to aggregate. */
  readonly minReports?: number;
  /** The clients' local optimizer, when known: SCAFFOLD's option II assumes plain SGD. */
  readonly localOptimizer?: 'sgd' | 'adam';
}

/**
 * Check a task's strategy block and refuse, with INVALID_TASK and a message saying why and what
 * to change, every combination that cannot work (docs/design.md "What combines with what":
 * refused at task creation, never silently degraded):
 * - a robust rule with secure aggregation: robust rules need each update, SecAgg reveals only
 *   the sum (Bonawitz et al. 2017);
 * - SCAFFOLD without persistent client state: c_i must survive between a client's rounds
 *   (Karimireddy et al. 2020);
 * - SCAFFOLD with a robust rule: Delta c is averaged, so one Byzantine client could steer every
 *   client's gradient correction;
 * - SCAFFOLD with a local Adam optimizer: option II's (x - y) / (K * lr) is the mean gradient
 *   only for plain SGD;
 * - Krum / Multi-Krum with a quorum below 2f + 3, or Multi-Krum's m above quorum - f.
 * Returns the checked config.
 */
export function checkCompatibility(input: CompatibilityInput): StrategyConfig {
  const config = validateStrategyConfig(input.strategy);
  if (typeof input.secureAggregation !== 'boolean' || typeof input.persistentClientState !== 'boolean') {
    throw new PollenError(CODE, '"secureAggregation" and "persistentClientState" expected booleans');
  }
  const { robust } = config;
  if (robust.kind !== 'none' && input.secureAggregation) {
    throw new PollenError(
      CODE,
      `robust aggregation "${robust.kind}" needs every client's update, but secure aggregation reveals only their sum: turn secure aggregation off or set strategy.robust.kind to "none"`,
    );
  }
  if (config.scaffold && !input.persistentClientState) {
    throw new PollenError(
      CODE,
      'SCAFFOLD keeps a control variate on each client between rounds, but this task has no persistent client state: enable it or set strategy.scaffold to false',
    );
  }
  if (config.scaffold && robust.kind !== 'none') {
    throw new PollenError(
      CODE,
      `SCAFFOLD's control-variate deltas are averaged, so robust aggregation "${robust.kind}" would not protect them: use one or the other`,
    );
  }
  if (config.fednova && robust.kind !== 'none') {
    throw new PollenError(
      CODE,
      `FedNova averages updates normalized by their local steps; robust aggregation "${robust.kind}" replaces that average: use one or the other`,
    );
  }
  if (config.fednova && input.localOptimizer === 'adam') {
    throw new PollenError(
      CODE,
      'FedNova normalizes by local steps, which measures local progress for plain SGD only (Wang et al. 2020): set training.optimizer to "sgd"',
    );
  }
  if (config.scaffold && input.localOptimizer === 'adam') {
    throw new PollenError(
      CODE,
      'SCAFFOLD (option II) derives the control variate from plain local SGD steps: set training.optimizer to "sgd"',
    );
  }
  if (input.minReports !== undefined) {
    const minReports = expectInt('minReports', input.minReports, 1, Number.MAX_SAFE_INTEGER, CODE);
    const needed = robustMinUpdates(robust);
    if (minReports < needed) {
      throw new PollenError(
        CODE,
        `robust aggregation "${robust.kind}" with f = ${'f' in robust ? robust.f : 0} needs at least ${needed} reports per round (n > 2f + 2), but rounds.minReports is ${minReports}`,
      );
    }
    if (robust.kind === 'multi-krum' && robust.m !== undefined && robust.m > minReports - robust.f) {
      throw new PollenError(
        CODE,
        `"strategy.robust.m" (${robust.m}) cannot exceed rounds.minReports - f (${minReports - robust.f})`,
      );
    }
  }
  return config;
}
