import {
  type CompressionSettings,
  checkCompressionCompatibility,
  validateCompression,
} from './compression.ts';
import { PollenError } from './errors.ts';
import { checkPrivacyCompatibility } from './privacy/round.ts';
import type { PrivacySettings } from './privacy/settings.ts';
import { validatePrivacySettings } from './privacy/settings.ts';
import type { RoundSchedule } from './round-mode.ts';
import { checkRoundModeCompatibility, validateRoundSchedule } from './round-mode.ts';
import type { SecureAggregationSettings } from './secagg/settings.ts';
import { validateSecureAggregation } from './secagg/settings.ts';
import type { StrategyConfig } from './strategies/config.ts';
import { checkCompatibility } from './strategies/config.ts';
import { expectInRange, expectInt, expectObject, expectOneOf, expectString } from './validate.ts';
import type { WeightSpec } from './vector.ts';

/** How the demo dataset is split across clients. */
export type PartitionSpec =
  | { readonly kind: 'iid' }
  | { readonly kind: 'dirichlet'; readonly alpha: number }
  | { readonly kind: 'shards'; readonly shardsPerClient: number };

/** Local training hyper-parameters sent to every selected client. */
export interface TrainingSpec {
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly optimizer: 'sgd' | 'adam';
}

/**
 * How rounds are run: cohort size, quorum and deadline, and how they are scheduled (synchronous,
 * possibly overlapping, or FedBuff's buffered mode: see {@link RoundSchedule}).
 */
export interface RoundSpec extends RoundSchedule {
  /** Clients the coordinator aims to aggregate per round. */
  readonly cohortSize: number;
  /** Fewer reports than this by the deadline abandons the round. */
  readonly minReports: number;
  /** A round starts only when at least this many eligible clients are available. */
  readonly minClients: number;
  /**
   * Poisson sampling rate q: each eligible client is selected with probability
   * q * overSelection, then the cohort is clamped to [minClients, ceil(cohortSize * overSelection)].
   * Default 1 (everyone available, up to the cap: right for demos and tests); a large
   * population sets 0.001 to 0.01.
   */
  readonly samplingRate: number;
  /** Selection is inflated by this factor to absorb drop-outs. */
  readonly overSelection: number;
  /**
   * Milliseconds from round start until the round closes with what it has; in buffered mode,
   * how long a client may hold the model before its place is given to another.
   */
  readonly deadlineMs: number;
  /** Stop after this many committed rounds (0 = run until stopped). */
  readonly maxRounds: number;
}

/** The dataset a task trains on and how it is partitioned into per-client shards. */
export interface DatasetSpec {
  readonly name: 'mnist';
  readonly partition: PartitionSpec;
  /** Number of shards the training split is cut into; each client id maps to one. */
  readonly numShards: number;
  readonly seed: number;
}

/** A federated task: the model to train, on what, and how. */
export interface TaskSpec {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly owner: string;
  /** A tfjs Layers model topology (the `modelTopology` of model.json). */
  readonly modelTopology: Record<string, unknown>;
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  readonly dataset: DatasetSpec;
  readonly training: TrainingSpec;
  readonly rounds: RoundSpec;
  /** How weights and updates travel: 'f32' exact, 'f16' half the bytes. */
  readonly codec: 'f32' | 'f16';
  /** Updates whose L2 norm exceeds this are refused with NORM_TOO_LARGE. */
  readonly maxUpdateNorm: number;
  /**
   * How a round's updates become the next model: the server optimizer (FedAvg by default),
   * FedProx's mu and SCAFFOLD for the clients' training, a robust aggregation rule, staleness
   * weights. Optional in a task description; always filled in once validated.
   */
  readonly strategy: StrategyConfig;
  /**
   * Differential privacy: clipping, who adds Gaussian noise ('distributed' or 'local') and the
   * epsilon budget the coordinator accounts against. Optional in a task description
   * ({ mode: 'off' } when absent); always filled in once validated.
   */
  readonly privacy: PrivacySettings;
  /**
   * How uploads are compressed: top-k, random-k or a shared coordinate set, bits per value,
   * error feedback (compression.ts). Optional in a task description ({ kind: 'none' } when
   * absent); always filled in once validated.
   */
  readonly compression: CompressionSettings;
  /**
   * Secure aggregation (SecAgg+): the coordinator learns only the sum of each round's updates.
   * Absent: updates travel in the clear. `true` in a task description takes every default.
   */
  readonly secureAggregation?: SecureAggregationSettings;
}

/** A task as stored: its spec plus the weight layout derived from the topology. */
export interface TaskRecord {
  readonly spec: TaskSpec;
  readonly weightSpec: WeightSpec;
  readonly status: TaskStatus;
  readonly createdAt: number;
}

/**
 * Where a task stands. 'completed': it committed `rounds.maxRounds` rounds. 'budget-exhausted':
 * its next round would have taken the privacy ledger past `privacy.epsilonBudget`, so it
 * selects no more.
 */
export type TaskStatus = 'running' | 'paused' | 'stopped' | 'completed' | 'budget-exhausted';

export const TASK_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

function validatePartition(value: unknown): PartitionSpec {
  const obj = expectObject('dataset.partition', value, 'INVALID_TASK');
  const kind = expectOneOf(
    'dataset.partition.kind',
    obj.kind,
    ['iid', 'dirichlet', 'shards'],
    'INVALID_TASK',
  );
  if (kind === 'iid') return { kind };
  if (kind === 'dirichlet') {
    return { kind, alpha: expectInRange('dataset.partition.alpha', obj.alpha, 1e-3, 1e3, 'INVALID_TASK') };
  }
  return {
    kind,
    shardsPerClient: expectInt(
      'dataset.partition.shardsPerClient',
      obj.shardsPerClient,
      1,
      10,
      'INVALID_TASK',
    ),
  };
}

/**
 * Check an untrusted task description and return it as a TaskSpec. Every field is checked
 * for type and range; an impossible combination is refused with INVALID_TASK.
 */
export function validateTaskSpec(input: unknown): TaskSpec {
  const obj = expectObject('task', input, 'INVALID_TASK');
  const id = expectString('id', obj.id, 63, TASK_ID_PATTERN, 'INVALID_TASK');
  const name = expectString('name', obj.name, 200, undefined, 'INVALID_TASK');
  const description = typeof obj.description === 'string' ? obj.description.slice(0, 2000) : '';
  const owner = typeof obj.owner === 'string' ? obj.owner.slice(0, 200) : 'Pollen';
  const modelTopology = expectObject('modelTopology', obj.modelTopology, 'INVALID_TASK');
  if (!Array.isArray(obj.inputShape) || obj.inputShape.length === 0 || obj.inputShape.length > 4) {
    throw new PollenError('INVALID_TASK', '"inputShape" expected array of 1..4 positive integers');
  }
  const inputShape = obj.inputShape.map((d, i) => expectInt(`inputShape[${i}]`, d, 1, 4096, 'INVALID_TASK'));
  const numClasses = expectInt('numClasses', obj.numClasses, 2, 10_000, 'INVALID_TASK');

  const ds = expectObject('dataset', obj.dataset, 'INVALID_TASK');
  const dataset: DatasetSpec = {
    name: expectOneOf('dataset.name', ds.name, ['mnist'], 'INVALID_TASK'),
    partition: validatePartition(ds.partition),
    numShards: expectInt('dataset.numShards', ds.numShards, 1, 100_000, 'INVALID_TASK'),
    seed: expectInt('dataset.seed', ds.seed ?? 0, 0, 0xffffffff, 'INVALID_TASK'),
  };

  const tr = expectObject('training', obj.training, 'INVALID_TASK');
  const training: TrainingSpec = {
    epochs: expectInt('training.epochs', tr.epochs, 1, 100, 'INVALID_TASK'),
    batchSize: expectInt('training.batchSize', tr.batchSize, 1, 4096, 'INVALID_TASK'),
    learningRate: expectInRange('training.learningRate', tr.learningRate, 1e-7, 10, 'INVALID_TASK'),
    optimizer: expectOneOf('training.optimizer', tr.optimizer ?? 'sgd', ['sgd', 'adam'], 'INVALID_TASK'),
  };

  const rd = expectObject('rounds', obj.rounds, 'INVALID_TASK');
  const cohortSize = expectInt('rounds.cohortSize', rd.cohortSize, 1, 100_000, 'INVALID_TASK');
  const overSelection = expectInRange('rounds.overSelection', rd.overSelection ?? 1.3, 1, 10, 'INVALID_TASK');
  const rounds: RoundSpec = {
    cohortSize,
    minReports: expectInt('rounds.minReports', rd.minReports, 1, 100_000, 'INVALID_TASK'),
    minClients: expectInt('rounds.minClients', rd.minClients ?? rd.minReports, 1, 100_000, 'INVALID_TASK'),
    samplingRate: expectInRange('rounds.samplingRate', rd.samplingRate ?? 1, 1e-6, 1, 'INVALID_TASK'),
    overSelection,
    deadlineMs: expectInt('rounds.deadlineMs', rd.deadlineMs, 100, 86_400_000, 'INVALID_TASK'),
    maxRounds: expectInt('rounds.maxRounds', rd.maxRounds ?? 0, 0, 10_000_000, 'INVALID_TASK'),
    ...validateRoundSchedule(rd, { cohortSize, overSelection }),
  };
  if (rounds.minReports > rounds.cohortSize) {
    throw new PollenError(
      'INVALID_TASK',
      `"rounds.minReports" (${rounds.minReports}) cannot exceed "rounds.cohortSize" (${rounds.cohortSize})`,
    );
  }
  if (rounds.minClients < rounds.minReports) {
    throw new PollenError(
      'INVALID_TASK',
      `"rounds.minClients" (${rounds.minClients}) cannot be below "rounds.minReports" (${rounds.minReports})`,
    );
  }
  const maxUpdateNorm = expectInRange('maxUpdateNorm', obj.maxUpdateNorm ?? 1000, 1e-6, 1e9, 'INVALID_TASK');
  const codec = expectOneOf('codec', obj.codec ?? 'f32', ['f32', 'f16'], 'INVALID_TASK');
  const secureAggregation = validateSecureAggregation(obj.secureAggregation, rounds.minClients);
  const strategy = checkCompatibility({
    strategy: obj.strategy,
    secureAggregation: secureAggregation !== null,
    // Pollen's web client keeps its state (client id, examples, SCAFFOLD's c_i) in IndexedDB.
    persistentClientState: true,
    minReports: rounds.minReports,
    localOptimizer: training.optimizer,
  });
  const privacy: PrivacySettings =
    obj.privacy === undefined ? { mode: 'off' } : validatePrivacySettings(obj.privacy);
  checkPrivacyCompatibility(privacy, strategy, rounds);
  checkRoundModeCompatibility({
    schedule: rounds,
    strategy,
    privacy,
    secureAggregation: secureAggregation !== null,
  });
  const compression = validateCompression(obj.compression);
  checkCompressionCompatibility(compression, strategy, privacy, secureAggregation !== null, rounds.mode);
  return {
    id,
    name,
    description,
    owner,
    modelTopology,
    inputShape,
    numClasses,
    dataset,
    training,
    rounds,
    codec,
    maxUpdateNorm,
    strategy,
    privacy,
    compression,
    ...(secureAggregation ? { secureAggregation } : {}),
  };
}
