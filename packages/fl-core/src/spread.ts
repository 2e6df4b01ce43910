import type { MetricValues } from './metric-values.ts';
import type { HeldOutReport } from './task/evaluation.ts';

/**
 * How a metric spreads across clients (docs/tasks.md, "Evaluation on the devices"): the
 * dashboard's spread charts and `pnpm sim`'s report share these. "Global accuracy hides
 * per-client performance": the quartiles and the worst clients say what the mean does not.
 */

/** The q-quantile of sorted values, interpolating linearly between neighbours (type 7, R's default). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError('"sorted" expected at least one value, got none');
  if (!(q >= 0 && q <= 1)) throw new RangeError(`"q" expected a number in [0, 1], got ${q}`);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Minimum, quartiles and maximum of a sample. */
export interface FiveNumbers {
  readonly min: number;
  readonly q1: number;
  readonly median: number;
  readonly q3: number;
  readonly max: number;
}

/** The five numbers of a sample; null when it is empty. */
export function fiveNumbers(values: readonly number[]): FiveNumbers | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return {
    min: s[0]!,
    q1: quantile(s, 0.25),
    median: quantile(s, 0.5),
    q3: quantile(s, 0.75),
    max: s[s.length - 1]!,
  };
}

/** Whether a larger value of the metric is better (accuracies, AUC) or worse (losses, errors, perplexity). */
export function higherIsBetter(name: string): boolean {
  return name === 'accuracy' || name === 'auc' || name.startsWith('topKAccuracy@');
}

/** How one metric spreads across clients. */
export interface ClientSpread extends FiveNumbers {
  readonly clients: number;
  /** Weighted by each client's held-out example count. */
  readonly mean: number;
  /** The plain mean over the worst tenth of clients (at least one): who the model serves least. */
  readonly worst10: number;
}

/**
 * The spread of one metric across clients' reports: the example-weighted mean, the quartiles
 * (linear interpolation between order statistics) and the mean of the worst 10% of clients,
 * worst by the metric's direction; null without reports.
 */
export function clientSpread(
  name: string,
  reports: readonly { readonly value: number; readonly weight: number }[],
): ClientSpread | null {
  if (reports.length === 0) return null;
  const values = reports.map((r) => r.value).sort((a, b) => a - b);
  const weight = reports.reduce((s, r) => s + r.weight, 0);
  const tail = Math.max(1, Math.ceil(values.length / 10));
  const worst = higherIsBetter(name) ? values.slice(0, tail) : values.slice(-tail);
  return {
    clients: values.length,
    mean: reports.reduce((s, r) => s + r.value * r.weight, 0) / weight,
    ...fiveNumbers(values)!,
    worst10: worst.reduce((s, v) => s + v, 0) / worst.length,
  };
}

/**
 * A round's clients' reports of the global model on their own held-out examples, summed up:
 * the version they scored, how many clients and examples, each metric's example-weighted mean
 * and its spread across clients.
 */
export interface OnDevices {
  /** The version the reports scored: the round's base. */
  readonly version: number;
  readonly clients: number;
  readonly numExamples: number;
  readonly metrics: MetricValues;
  readonly distribution: Readonly<Record<string, ClientSpread>>;
}

/** Sum up the held-out reports of a round's clients; null when none reported one. */
export function onDevices(version: number, reports: readonly HeldOutReport[]): OnDevices | null {
  if (reports.length === 0) return null;
  const metrics: Record<string, number> = {};
  const distribution: Record<string, ClientSpread> = {};
  for (const name of Object.keys(reports[0]!.metrics)) {
    const values = reports.flatMap((h) =>
      h.metrics[name] === undefined ? [] : [{ value: h.metrics[name]!, weight: h.numExamples }],
    );
    const spread = clientSpread(name, values);
    if (!spread) continue;
    metrics[name] = spread.mean;
    distribution[name] = spread;
  }
  return {
    version,
    clients: reports.length,
    numExamples: reports.reduce((n, h) => n + h.numExamples, 0),
    metrics,
    distribution,
  };
}
