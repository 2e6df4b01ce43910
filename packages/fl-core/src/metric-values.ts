import { PollenError, type PollenErrorCode } from './errors.ts';
import type { MetricValues } from './task/schema.ts';
import { expectObject } from './validate.ts';

/** A metric's name: a word (`accuracy`, `top5Accuracy`, `mse`). */
export const METRIC_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;
/** At most this many metrics in one report: a task declares a handful. */
export const MAX_METRICS = 16;
/** Any reported metric lies in [-MAX_METRIC_ABS, MAX_METRIC_ABS]. */
const MAX_METRIC_ABS = 1e12;

/**
 * Check a metrics map that crossed a boundary (a client's report, a stored row): an object
 * of at most MAX_METRICS finite numbers with well-formed names, `loss` among them and
 * non-negative. Errors name the offending field under `name`.
 */
export function parseMetricValues(
  name: string,
  input: unknown,
  code: PollenErrorCode = 'INVALID_MESSAGE',
): MetricValues {
  const obj = expectObject(name, input, code);
  const keys = Object.keys(obj);
  if (keys.length > MAX_METRICS) {
    throw new PollenError(code, `"${name}" has ${keys.length} metrics, at most ${MAX_METRICS}`);
  }
  const out: Record<string, number> = {};
  for (const key of keys) {
    if (!METRIC_NAME_PATTERN.test(key)) {
      throw new PollenError(code, `"${name}" has a metric named ${JSON.stringify(key.slice(0, 40))}`);
    }
    const value = obj[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || Math.abs(value) > MAX_METRIC_ABS) {
      throw new PollenError(code, `"${name}.${key}" expected a finite number, got ${String(value)}`);
    }
    out[key] = value;
  }
  const loss = out.loss;
  if (loss === undefined || loss < 0) {
    throw new PollenError(code, `"${name}.loss" expected a non-negative number, got ${String(loss)}`);
  }
  return out;
}

/** The metrics of a record written before named metrics: its accuracy and loss columns. */
export function legacyMetricValues(accuracy: number | null, loss: number | null): MetricValues | null {
  if (loss === null) return null;
  return accuracy === null ? { loss } : { loss, accuracy };
}

/** Metrics in a few words (`accuracy 0.9123, loss 0.3100`), loss last; null for none. */
export function formatMetricValues(metrics: MetricValues | null, digits = 4): string | null {
  if (metrics === null) return null;
  const { loss, ...rest } = metrics;
  return [...Object.entries(rest), ...(loss === undefined ? [] : [['loss', loss] as const])]
    .map(([name, value]) => `${name} ${value.toFixed(digits)}`)
    .join(', ');
}
