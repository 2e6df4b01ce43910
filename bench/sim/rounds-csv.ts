import type { MetricValues } from '@pollen/fl-core';
import { heldOutMse, type SimReport } from './report.ts';

function cell(value: number | string | null | undefined): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'number' ? String(Number(value.toPrecision(6))) : value;
}

/**
 * The report's rounds as CSV, one row per closed round, after one for the untrained model
 * (version 0) when it was evaluated: the held-out metrics by name (`loss` first, then the task's in name order)
 * and, for a regression with a baseline, the held-out MSE over the baseline's.
 */
export function roundsCsv(report: SimReport): string {
  const names = new Set<string>();
  const all: (MetricValues | null)[] = [report.initialMetrics, ...report.rounds.map((r) => r.metrics)];
  for (const m of all) for (const name of Object.keys(m ?? {})) names.add(name);
  const metricNames = [...names].sort((a, b) => (a === 'loss' ? -1 : b === 'loss' ? 1 : a.localeCompare(b)));
  const baseline = report.data?.baselineMse ?? null;
  const loss = report.task.loss;
  const ratio = (m: MetricValues | null): number | null => {
    const mse = heldOutMse(m, loss);
    return baseline && mse !== null ? mse / baseline : null;
  };
  const header = ['round', 'status', 'version', 'reported', 'dropped', 'elapsed_s', ...metricNames];
  if (baseline !== null) header.push('mse_over_baseline');
  const rows = [header.join(',')];
  const line = (head: (number | string | null)[], m: MetricValues | null): void => {
    const values = [...head, ...metricNames.map((n) => m?.[n] ?? null)];
    if (baseline !== null) values.push(ratio(m));
    rows.push(values.map(cell).join(','));
  };
  if (report.initialMetrics) line([null, 'initial', 0, null, null, null], report.initialMetrics);
  for (const r of report.rounds)
    line([r.round, r.status, r.version, r.reported, r.dropped, r.elapsedS], r.metrics);
  return `${rows.join('\n')}\n`;
}
