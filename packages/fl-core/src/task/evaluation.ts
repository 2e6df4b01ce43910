import { type Static, Type } from '@sinclair/typebox';
import { PollenError, type PollenErrorCode } from '../errors.ts';
import { type MetricValues, parseMetricValues } from '../metric-values.ts';
import { expectInt, expectObject } from '../validate.ts';
import { checkSchema } from './check-schema.ts';
import { metricKey } from './fit.ts';
import type { MetricSpec } from './schema.ts';

/**
 * Evaluation on the devices (docs/tasks.md, "Evaluation on the devices"): each device keeps a
 * fraction of its own examples apart, never trained on, and in every training round reports
 * the global model's metrics on them before it trains, so the coordinator sees how the model
 * serves each person, not only how it does on held-out data of its own.
 */
/**
 * Federated evaluation rounds (docs/tasks.md, "Evaluation rounds"): every `every` committed
 * versions, a cohort of idle devices scores the current global model on their held-out
 * examples and reports only metrics; no weights travel up.
 */
export const FederatedEvaluationSchema = Type.Object(
  {
    every: Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      description: 'Evaluate every N committed versions',
    }),
    cohortSize: Type.Integer({
      minimum: 1,
      maximum: 100_000,
      description: 'Devices an evaluation round asks at most',
    }),
    samplingRate: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 1,
        description:
          'Poisson rate each idle device is asked with (default 1), clamped to [minReports, cohortSize]',
      }),
    ),
    minReports: Type.Integer({
      minimum: 1,
      maximum: 100_000,
      description: 'Reports an evaluation needs to count',
    }),
    deadlineMs: Type.Integer({
      minimum: 1000,
      maximum: 3_600_000,
      description: 'How long devices have to report',
    }),
  },
  { additionalProperties: false },
);

export type FederatedEvaluationSettings = Static<typeof FederatedEvaluationSchema>;

/**
 * Which of a device's examples are held out (docs/tasks.md, "Evaluation on the devices"):
 * `hash`, a fixed hash of each example's key (examples independent of each other); `newest`, the
 * newest share by key, with the `gap` examples just before them kept out of training too, for
 * examples cut from one stream (text windows at stride 1 share all but one character with their
 * neighbours: a hash split would score the model on text it trained on).
 */
export const HeldOutSplitSchema = Type.Union([
  Type.Object({ kind: Type.Literal('hash') }, { additionalProperties: false }),
  Type.Object(
    {
      kind: Type.Literal('newest'),
      gap: Type.Integer({
        minimum: 0,
        maximum: 1_000_000,
        description:
          'Examples before the held-out ones that are not trained on either (the overlap of a window)',
      }),
    },
    { additionalProperties: false },
  ),
]);

export type HeldOutSplit = Static<typeof HeldOutSplitSchema>;

export const EvaluationSchema = Type.Object(
  {
    heldOutFraction: Type.Number({
      minimum: 0,
      maximum: 0.5,
      description: "Share of each device's examples kept apart for evaluation, never trained on (0: none)",
    }),
    heldOutSplit: Type.Optional(HeldOutSplitSchema),
    federated: Type.Optional(FederatedEvaluationSchema),
  },
  { additionalProperties: false, description: 'Evaluation on the devices (docs/tasks.md)' },
);

export type EvaluationSettings = Static<typeof EvaluationSchema>;

/** Check an untrusted evaluation block; absent (or a fraction of 0) means none (null). */
export function validateEvaluation(value: unknown): EvaluationSettings | null {
  if (value === undefined) return null;
  checkSchema(EvaluationSchema, value, 'INVALID_TASK', 'evaluation');
  const e = value as EvaluationSettings;
  const { federated } = e;
  if (federated && e.heldOutFraction <= 0) {
    throw new PollenError(
      'INVALID_TASK',
      '"evaluation.federated" needs held-out examples on the devices: set "evaluation.heldOutFraction" above 0',
    );
  }
  if (federated && federated.minReports > federated.cohortSize) {
    throw new PollenError(
      'INVALID_TASK',
      `"evaluation.federated.minReports" (${federated.minReports}) exceeds "cohortSize" (${federated.cohortSize})`,
    );
  }
  if (e.heldOutFraction <= 0) return null;
  return {
    heldOutFraction: e.heldOutFraction,
    ...(e.heldOutSplit && e.heldOutSplit.kind !== 'hash' ? { heldOutSplit: { ...e.heldOutSplit } } : {}),
    ...(federated ? { federated: { ...federated } } : {}),
  };
}

/** Which of its examples a device holds out: what rounds and evaluation rounds tell it. */
export interface HeldOutSettings {
  readonly heldOutFraction: number;
  /** Absent: by a hash of each key. */
  readonly heldOutSplit?: HeldOutSplit;
}

/** What a task's evaluation block tells the devices of their held-out examples. */
export function heldOutSettings(e: EvaluationSettings): HeldOutSettings {
  return { heldOutFraction: e.heldOutFraction, ...(e.heldOutSplit ? { heldOutSplit: e.heldOutSplit } : {}) };
}

/**
 * Check the held-out part of a message from the coordinator (a round's `evaluation`, or an
 * evaluation round's fields): a fraction in [0, 0.5], where present a split as a task may name
 * one, and `report` absent (report on them) or false. Absent altogether: nothing held out.
 */
export function parseHeldOutSettings(
  name: string,
  value: unknown,
): { readonly settings: HeldOutSettings; readonly report: boolean } {
  if (value === undefined) return { settings: { heldOutFraction: 0 }, report: false };
  const {
    heldOutFraction: fraction,
    heldOutSplit: split,
    report,
  } = expectObject(name, value, 'INVALID_MESSAGE');
  if (typeof fraction !== 'number' || !Number.isFinite(fraction) || fraction < 0 || fraction > 0.5) {
    throw new PollenError('INVALID_MESSAGE', `"${name}.heldOutFraction" must be a number from 0 to 0.5`);
  }
  if (report !== undefined && report !== false) {
    throw new PollenError('INVALID_MESSAGE', `"${name}.report" must be false or absent`);
  }
  if (split !== undefined) checkSchema(HeldOutSplitSchema, split, 'INVALID_MESSAGE', `${name}.heldOutSplit`);
  return {
    settings: {
      heldOutFraction: fraction,
      ...(split === undefined ? {} : { heldOutSplit: { ...(split as HeldOutSplit) } }),
    },
    report: report === undefined,
  };
}

/**
 * Whether a device keeps example `key` (a stored example's own number) apart for evaluation:
 * a fixed hash of the key against the fraction, so an example stays on its side as others are
 * added or removed, and about `fraction` of any device's examples are held out.
 */
export function isHeldOut(key: number, fraction: number): boolean {
  if (fraction <= 0) return false;
  // Murmur3's 32-bit finalizer: consecutive keys spread over the whole range.
  let h = key >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h = (h ^ (h >>> 16)) >>> 0;
  return h / 2 ** 32 < fraction;
}

/**
 * A device's examples, by key, split for evaluation; the held-out ones are never trained on. A
 * device whose examples would all be held out (or left in the gap) trains on all of them and
 * holds none back.
 *
 * `hash` (the default): the keys isHeldOut picks. `newest`: the newest `round(fraction * n)`
 * keys, and the `gap` keys before them go to neither side. Once a device holds some out, the
 * boundary only moves forward as examples are added, so an example trained on since is never
 * held out later (unless examples are deleted).
 */
export function splitHeldOut(
  keys: readonly number[],
  fraction: number,
  split: HeldOutSplit = { kind: 'hash' },
): { readonly train: readonly number[]; readonly heldOut: readonly number[] } {
  let train: readonly number[];
  let heldOut: readonly number[];
  if (split.kind === 'newest') {
    const sorted = [...keys].sort((a, b) => a - b);
    const boundary = sorted.length - Math.round(fraction * sorted.length);
    heldOut = sorted.slice(boundary);
    train = sorted.slice(0, Math.max(0, boundary - split.gap));
  } else {
    heldOut = keys.filter((k) => isHeldOut(k, fraction));
    train = keys.filter((k) => !isHeldOut(k, fraction));
  }
  return train.length === 0 || heldOut.length === 0 ? { train: keys, heldOut: [] } : { train, heldOut };
}

/** The values a metric can take: a report outside them is refused. */
export function metricRange(name: string): readonly [number, number] {
  if (name === 'accuracy' || name === 'auc' || name.startsWith('topKAccuracy@')) return [0, 1];
  if (name === 'perplexity') return [1, Number.POSITIVE_INFINITY];
  // loss, mse, mae, rmse.
  return [0, Number.POSITIVE_INFINITY];
}

/** The global model's metrics on a device's held-out examples, as the device reports them. */
export interface HeldOutReport {
  readonly metrics: MetricValues;
  /** How many held-out examples they were computed on. */
  readonly numExamples: number;
}

/**
 * Check a device's held-out report against its task: `loss` and exactly the task's metrics,
 * each within its range, on a positive whole number of examples. Errors name the field.
 */
export function parseHeldOutReport(
  name: string,
  input: unknown,
  metrics: readonly MetricSpec[],
  code: PollenErrorCode = 'INVALID_MESSAGE',
): HeldOutReport {
  const obj = expectObject(name, input, code);
  const values = parseMetricValues(`${name}.metrics`, obj.metrics, code);
  const expected = ['loss', ...metrics.map(metricKey)].sort();
  const got = Object.keys(values).sort();
  if (got.join() !== expected.join()) {
    throw new PollenError(code, `"${name}.metrics" expected ${expected.join(', ')}, got ${got.join(', ')}`);
  }
  for (const [key, value] of Object.entries(values)) {
    const [min, max] = metricRange(key);
    if (value < min || value > max) {
      throw new PollenError(
        code,
        `"${name}.metrics.${key}" expected a value in [${min}, ${max}], got ${value}`,
      );
    }
  }
  return { metrics: values, numExamples: expectInt(`${name}.numExamples`, obj.numExamples, 1, 1e9, code) };
}

/**
 * The largest value a metric contributes to a secure evaluation round (docs/tasks.md,
 * "Evaluation rounds"): its range's top where it has one (accuracies, AUC: 1), else 100 (a
 * loss, error or perplexity above it is clipped: a model that learned anything is far below).
 * Each word is divided by its metric's cap, so every word spends the fixed point's precision.
 */
export function secureMetricCap(name: string): number {
  const top = metricRange(name)[1];
  return Number.isFinite(top) ? top : 100;
}

/**
 * A device's words in a secure evaluation round: for each of `metrics` in order,
 * min(metric, cap) / cap x held-out examples / `scale`, then held-out examples / `scale`.
 * Summed over the devices, word i x cap over the last word is metric i's example-weighted
 * mean; a device holding no held-out examples adds zeros.
 */
export function secureEvaluationWords(
  report: HeldOutReport | null,
  metrics: readonly string[],
  scale: number,
): Float32Array {
  const out = new Float32Array(metrics.length + 1);
  if (!report) return out;
  const weight = report.numExamples / scale;
  for (const [i, name] of metrics.entries()) {
    const value = report.metrics[name];
    if (value === undefined) throw new PollenError('INVALID_ARGUMENT', `the report has no "${name}"`);
    const cap = secureMetricCap(name);
    out[i] = (Math.min(value, cap) / cap) * weight;
  }
  out[metrics.length] = weight;
  return out;
}

/** The example-weighted means a secure evaluation round's unmasked sum holds; null when no device held examples. */
export function secureEvaluationMeans(sum: Float32Array, metrics: readonly string[]): MetricValues | null {
  const weight = sum[metrics.length]!;
  if (!(weight > 0)) return null;
  return Object.fromEntries(metrics.map((name, i) => [name, (sum[i]! * secureMetricCap(name)) / weight]));
}
