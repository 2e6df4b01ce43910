import type { AdmissionSettings } from './admission.ts';
import { validateAdmission } from './admission.ts';
import {
  type CompressionSettings,
  checkCompressionCompatibility,
  validateCompression,
} from './compression.ts';
import { checkDownloadCompatibility, downloadOf } from './download.ts';
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
import { checkSchema } from './task/check-schema.ts';
import { type EligibilitySettings, validateEligibility } from './task/eligibility.ts';
import { type EvaluationSettings, validateEvaluation } from './task/evaluation.ts';
import { checkColumns, checkInputTarget, checkLoss, checkMetrics, checkShorthand } from './task/fit.ts';
import { upgradeLegacyTask } from './task/legacy.ts';
import { checkLocalWork, type LocalWorkSpec } from './task/local-work.ts';
import { checkPresentation, type Presentation } from './task/presentation.ts';
import type {
  ColumnsSpec,
  DataSpec,
  InputSpec,
  LossName,
  MetricSpec,
  ModelSpec,
  TargetSpec,
  TaskInput,
} from './task/schema.ts';
import { TaskInputSchema } from './task/schema.ts';
import { checkTrainable, type TrainableSpec } from './task/trainable.ts';
import { expectInRange, expectInt, expectObject, expectOneOf } from './validate.ts';
import type { WeightSpec } from './vector.ts';

/**
 * Local training hyper-parameters sent to every selected client; the local-work fields (time
 * budget, CPU share, schedule, augmentation) are there when the task sets them. In a round
 * start message `learningRate` is the round's, from the schedule.
 */
export interface TrainingSpec extends LocalWorkSpec {
  /** Epochs to train; with `timeBudgetMs`, the most epochs the budget may reach. */
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly optimizer: 'sgd' | 'adam';
  /** What the task trains (docs/design.md, "Fine-tuning"); absent: every weight. */
  readonly trainable?: TrainableSpec;
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

/** A federated task: the model to train, on what, and how. */
export interface TaskSpec {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly owner: string;
  /** A built-in shorthand, or a tfjs Layers topology with optional initial weights. */
  readonly model: ModelSpec;
  /** One example's features: shape, stored dtype, and the scale/offset that make model input. */
  readonly input: InputSpec;
  /** What the model predicts: classes, labels, a regression tensor or next tokens. */
  readonly target: TargetSpec;
  /** The training loss (defaulted by target kind). */
  readonly loss: LossName;
  /** Metrics reported besides the loss (defaulted by target kind). */
  readonly metrics: readonly MetricSpec[];
  /** Built-in demo data served to clients, when the task has some (MNIST, Brown, SpamAssassin). */
  readonly data?: DataSpec;
  /** Which CSV columns of its data files (held-out upload, simulations) make an example. */
  readonly columns?: ColumnsSpec;
  /**
   * How the contributor's page presents the task and turns the visitor's input into examples.
   * Absent: presentationOf() defaults it (a canvas for MNIST, else none).
   */
  readonly presentation?: Presentation;
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
  /** Who may join (admission.ts). Absent: anyone; `{ joinToken: true }`: holders of a join token. */
  readonly admission?: AdmissionSettings;
  /** When a device may train: charging, unmetered, battery level, idle (task/eligibility.ts). */
  readonly eligibility?: EligibilitySettings;
  /** Evaluation on the devices: the held-out share of each device's examples (task/evaluation.ts). */
  readonly evaluation?: EvaluationSettings;
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

/**
 * FedNova rescales the round's aggregate by the clients' mean local steps, a value each client
 * claims: under DP that would scale the noised sum by client-controlled data, so the
 * sensitivity the accountant assumes would not hold; buffered mode applies updates one by one,
 * with no round-wide mean of steps to normalize by.
 */
function checkFedNovaCompatibility(
  strategy: StrategyConfig,
  privacy: PrivacySettings,
  rounds: RoundSpec,
): void {
  if (!strategy.fednova) return;
  if (privacy.mode !== 'off') {
    throw new PollenError(
      'INVALID_TASK',
      `FedNova scales the aggregate by the clients' reported local steps, which differential privacy's sensitivity bound does not cover: set privacy.mode to "off" or strategy.fednova to false`,
    );
  }
  if (rounds.mode === 'buffered') {
    throw new PollenError(
      'INVALID_TASK',
      'FedNova normalizes over a round\'s reports; buffered mode applies them without rounds: use rounds.mode "sync" or strategy.fednova false',
    );
  }
}

/**
 * Built-in data fits only the task it was made for: MNIST is 784 pixels and 10 classes; Brown
 * text is read through a next-char presentation (its alphabet and context make the examples);
 * SpamAssassin messages through a text-label presentation labelled ham and spam (its features
 * make the input). Only Brown and SpamAssassin have groups for a natural partition, and only
 * Brown has parts (pretraining and fine-tuning genres).
 */
function checkData(
  data: TaskInput['data'] & object,
  input: InputSpec,
  target: TargetSpec,
  presentation: Presentation | undefined,
): DataSpec {
  const size = input.shape.reduce((a, b) => a * b, 1);
  if ((data.part ?? 'all') !== 'all' && data.builtin !== 'brown') {
    throw new PollenError(
      'INVALID_TASK',
      `"data.part" ${data.part} splits brown by genre; ${data.builtin} has only the part all`,
    );
  }
  if (data.builtin === 'mnist') {
    if (size !== 784 || input.dtype !== 'uint8' || target.kind !== 'class' || target.numClasses !== 10) {
      throw new PollenError(
        'INVALID_TASK',
        '"data.builtin" mnist holds 28x28 uint8 digits in 10 classes: "input" must be 784 uint8 values and "target" 10 classes',
      );
    }
    if (data.partition.kind === 'natural') {
      throw new PollenError(
        'INVALID_TASK',
        '"data.partition" natural needs data with groups (brown, spam-assassin); MNIST has none',
      );
    }
  } else if (data.builtin === 'brown') {
    if (presentation?.kind !== 'next-char' || target.kind !== 'class') {
      throw new PollenError(
        'INVALID_TASK',
        '"data.builtin" brown is text: it needs a "presentation" of kind next-char and a class target (the next character)',
      );
    }
  } else {
    const labels = presentation?.kind === 'text-label' ? [...presentation.labels].sort() : [];
    if (labels.join() !== 'ham,spam') {
      throw new PollenError(
        'INVALID_TASK',
        '"data.builtin" spam-assassin holds labelled messages: it needs a "presentation" of kind text-label with the labels ham and spam',
      );
    }
  }
  return { ...data, seed: data.seed ?? 0 };
}

/**
 * Check an untrusted task description and return it as a TaskSpec. Every field is checked
 * against {@link TaskInputSchema} (an error names the field), then the cross-field rules
 * (loss and metrics against the target, strategy against privacy and secure aggregation);
 * an impossible combination is refused with INVALID_TASK. A spec stored by an older
 * coordinator (`modelTopology`, `inputShape`, `numClasses`, `dataset`) is upgraded first.
 */
export function validateTaskSpec(input: unknown): TaskSpec {
  const obj = upgradeLegacyTask(input) as Record<string, unknown>;
  checkSchema(TaskInputSchema, obj);
  const task = obj as TaskInput;
  const { id, name } = task;
  const description = task.description ?? '';
  const owner = task.owner ?? 'Pollen';
  const { model, input: inputSpec, target } = task;
  checkInputTarget(inputSpec, target);
  checkShorthand(model, inputSpec, target);
  const loss = checkLoss(target, task.loss);
  const metrics = checkMetrics(target, task.metrics);
  if (task.presentation) checkPresentation(task.presentation, inputSpec, target);
  const data = task.data ? checkData(task.data, inputSpec, target, task.presentation) : undefined;
  if (task.columns) checkColumns(task.columns, inputSpec, target);

  const tr = expectObject('training', obj.training, 'INVALID_TASK');
  const baseTraining = {
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
  const training: TrainingSpec = {
    ...baseTraining,
    ...checkLocalWork(task.training, {
      learningRate: baseTraining.learningRate,
      deadlineMs: rounds.deadlineMs,
      input: inputSpec,
    }),
    ...(task.training.trainable ? { trainable: checkTrainable(task.training.trainable) } : {}),
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
  checkFedNovaCompatibility(strategy, privacy, rounds);
  const compression = validateCompression(obj.compression);
  const admission = validateAdmission(obj.admission);
  const eligibility = validateEligibility(obj.eligibility);
  const evaluation = validateEvaluation(obj.evaluation);
  // Evaluation rounds keep each device's metrics, which differential privacy does not account
  // for; under secure aggregation they go masked and only totals reach the coordinator, which
  // SecAgg+ needs three devices for.
  if (evaluation?.federated && privacy.mode !== 'off') {
    throw new PollenError(
      'INVALID_TASK',
      '"evaluation.federated" keeps each device\'s metrics, which differential privacy does not account for: not available with "privacy" yet',
    );
  }
  if (evaluation?.federated && secureAggregation !== null && evaluation.federated.minReports < 3) {
    throw new PollenError(
      'INVALID_TASK',
      `"evaluation.federated.minReports" expected at least 3 under secure aggregation, got ${evaluation.federated.minReports}`,
    );
  }
  checkCompressionCompatibility(compression, strategy, privacy, secureAggregation !== null, rounds.mode);
  checkDownloadCompatibility(downloadOf(compression), rounds.mode);
  return {
    id,
    name,
    description,
    owner,
    model,
    input: inputSpec,
    target,
    loss,
    metrics,
    ...(data ? { data } : {}),
    ...(task.columns ? { columns: task.columns } : {}),
    ...(task.presentation ? { presentation: task.presentation } : {}),
    training,
    rounds,
    codec,
    maxUpdateNorm,
    strategy,
    privacy,
    compression,
    ...(secureAggregation ? { secureAggregation } : {}),
    ...(admission ? { admission } : {}),
    ...(eligibility ? { eligibility } : {}),
    ...(evaluation ? { evaluation } : {}),
  };
}
