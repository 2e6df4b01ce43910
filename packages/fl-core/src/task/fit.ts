import { PollenError } from '../errors.ts';
import type {
  ColumnsSpec,
  InputSpec,
  LossName,
  MetricSpec,
  ModelSpec,
  SimpleMetric,
  TargetKind,
  TargetSpec,
} from './schema.ts';

/** The losses that make sense for each target kind; the first is the default. */
export const LOSSES_BY_TARGET: Readonly<Record<TargetKind, readonly LossName[]>> = {
  class: ['sparseCategoricalCrossentropy', 'categoricalCrossentropy'],
  multilabel: ['binaryCrossentropy'],
  regression: ['meanSquaredError', 'meanAbsoluteError', 'huber'],
  sequence: ['sparseCategoricalCrossentropy', 'categoricalCrossentropy'],
};

/** The metrics each target kind can report (`topKAccuracy` included where listed). */
const METRICS_BY_TARGET: Readonly<Record<TargetKind, readonly (SimpleMetric | 'topKAccuracy')[]>> = {
  class: ['accuracy', 'topKAccuracy', 'perplexity', 'auc'],
  multilabel: ['accuracy', 'auc'],
  regression: ['mse', 'mae', 'rmse'],
  sequence: ['accuracy', 'topKAccuracy', 'perplexity'],
};

/** Metrics a task reports when it names none. */
export const DEFAULT_METRICS: Readonly<Record<TargetKind, readonly MetricSpec[]>> = {
  class: ['accuracy'],
  multilabel: ['accuracy', 'auc'],
  regression: ['mse', 'mae'],
  sequence: ['accuracy', 'perplexity'],
};

/** The key a metric's value has in MetricValues: `accuracy`, `topKAccuracy@5`, ... */
export function metricKey(metric: MetricSpec): string {
  return typeof metric === 'string' ? metric : `topKAccuracy@${metric.k}`;
}

/** How many values the model outputs per example (per position for sequences). */
export function outputUnits(target: TargetSpec): number {
  switch (target.kind) {
    case 'class':
      return target.numClasses;
    case 'multilabel':
      return target.numLabels;
    case 'sequence':
      return target.vocabSize;
    case 'regression':
      return target.shape.reduce((a, b) => a * b, 1);
  }
}

/**
 * The shape the model's output must have, without the batch dimension: [numClasses],
 * [numLabels], the regression shape, or [sequence length, vocabSize] for next-token prediction.
 */
export function expectedOutputShape(input: InputSpec, target: TargetSpec): readonly number[] {
  switch (target.kind) {
    case 'class':
      return [target.numClasses];
    case 'multilabel':
      return [target.numLabels];
    case 'regression':
      return target.shape;
    case 'sequence':
      return [input.shape[0]!, target.vocabSize];
  }
}

/** The loss, defaulted by target kind, refused when it does not fit the target. */
export function checkLoss(target: TargetSpec, loss: LossName | undefined): LossName {
  const allowed = LOSSES_BY_TARGET[target.kind];
  if (loss === undefined) return allowed[0]!;
  if (!allowed.includes(loss)) {
    throw new PollenError(
      'INVALID_TASK',
      `"loss" ${loss} does not fit a ${target.kind} target; use one of ${allowed.join(', ')}`,
    );
  }
  return loss;
}

/** The metrics, defaulted by target kind; each refused by position when it does not fit. */
export function checkMetrics(target: TargetSpec, metrics: readonly MetricSpec[] | undefined): MetricSpec[] {
  if (metrics === undefined) return [...DEFAULT_METRICS[target.kind]];
  const allowed = METRICS_BY_TARGET[target.kind];
  const seen = new Set<string>();
  metrics.forEach((m, i) => {
    const name = typeof m === 'string' ? m : m.name;
    if (!allowed.includes(name)) {
      throw new PollenError(
        'INVALID_TASK',
        `"metrics[${i}]" ${name} does not fit a ${target.kind} target; use ${allowed.join(', ')}`,
      );
    }
    if (name === 'auc' && target.kind === 'class' && target.numClasses !== 2) {
      throw new PollenError(
        'INVALID_TASK',
        `"metrics[${i}]" auc needs a binary target: numClasses 2 or a multilabel target, got ${target.numClasses} classes`,
      );
    }
    if (typeof m !== 'string') {
      const classes =
        target.kind === 'class' ? target.numClasses : target.kind === 'sequence' ? target.vocabSize : 0;
      if (m.k >= classes) {
        throw new PollenError(
          'INVALID_TASK',
          `"metrics[${i}].k" (${m.k}) must be below the ${classes} classes`,
        );
      }
    }
    const key = metricKey(m);
    if (key === 'loss' || seen.has(key)) {
      throw new PollenError('INVALID_TASK', `"metrics[${i}]" ${key} is listed twice`);
    }
    seen.add(key);
  });
  return [...metrics];
}

/** Input and target rules that JSON Schema cannot say. */
export function checkInputTarget(input: InputSpec, target: TargetSpec): void {
  for (const field of ['scale', 'offset'] as const) {
    const v = input[field];
    if (v !== undefined && (!Number.isFinite(v) || (field === 'scale' && v === 0))) {
      throw new PollenError(
        'INVALID_TASK',
        `"input.${field}" expected a finite${field === 'scale' ? ' non-zero' : ''} number, got ${v}`,
      );
    }
  }
  const size = input.shape.reduce((a, b) => a * b, 1);
  if (size > 1 << 24) {
    throw new PollenError(
      'INVALID_TASK',
      `"input.shape" holds ${size} values per example, more than ${1 << 24}`,
    );
  }
  if (target.kind === 'sequence') {
    if (input.shape.length !== 1) {
      throw new PollenError(
        'INVALID_TASK',
        `"input.shape" of a sequence target is [length], got [${input.shape.join(', ')}]`,
      );
    }
    if (input.dtype === 'float32') {
      throw new PollenError(
        'INVALID_TASK',
        '"input.dtype" of a sequence target holds token ids: int32 or uint8',
      );
    }
  }
}

/** A built-in shorthand must fit the input it is built for. */
export function checkShorthand(model: ModelSpec, input: InputSpec, target: TargetSpec): void {
  if (!('kind' in model)) return;
  if (target.kind === 'sequence') {
    throw new PollenError(
      'INVALID_TASK',
      `"model.kind" ${model.kind} cannot predict a sequence: give a topology (for example an embedding and an LSTM)`,
    );
  }
  if (model.kind === 'cnn' && input.shape.length !== 3) {
    throw new PollenError(
      'INVALID_TASK',
      `"model.kind" cnn needs "input.shape" [height, width, channels], got [${input.shape.join(', ')}]`,
    );
  }
}

/**
 * Values per example's label: 1 class id, numLabels 0/1 flags, the regression tensor, or one
 * next token per input position.
 */
export function labelSize(task: { readonly input: InputSpec; readonly target: TargetSpec }): number {
  const { target } = task;
  switch (target.kind) {
    case 'class':
      return 1;
    case 'multilabel':
      return target.numLabels;
    case 'regression':
      return target.shape.reduce((a, b) => a * b, 1);
    case 'sequence':
      return task.input.shape[0]!;
  }
}

/**
 * CSV columns that can make an example of this task: as many feature columns as the input has
 * values and as many target columns as a label has, each column in one role only.
 */
export function checkColumns(columns: ColumnsSpec, input: InputSpec, target: TargetSpec): void {
  const size = input.shape.reduce((a, b) => a * b, 1);
  if (columns.features && columns.features.length !== size) {
    throw new PollenError(
      'INVALID_TASK',
      `"columns.features" names ${columns.features.length} columns, "input.shape" [${input.shape.join(', ')}] holds ${size} values`,
    );
  }
  const targets = typeof columns.target === 'string' ? [columns.target] : columns.target;
  const labels = labelSize({ input, target });
  if (targets && targets.length !== labels) {
    throw new PollenError(
      'INVALID_TASK',
      `"columns.target" names ${targets.length} columns, a ${target.kind} label holds ${labels} values`,
    );
  }
  const roles = new Map<string, string>();
  const take = (name: string, role: string): void => {
    const other = roles.get(name);
    if (other !== undefined) {
      throw new PollenError('INVALID_TASK', `"${role}" column "${name}" is also named in "${other}"`);
    }
    roles.set(name, role);
  };
  for (const name of columns.features ?? []) take(name, 'columns.features');
  for (const name of targets ?? []) take(name, 'columns.target');
  if (columns.group !== undefined) take(columns.group, 'columns.group');
}
