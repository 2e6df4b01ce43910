import { formatMetricValues, type OperatorRound } from '@pollen/fl-core';

/**
 * A committed round's held-out figures in words. They attach after the commit (docs/design.md,
 * "Evaluation off the commit path"): until then, and for a version the evaluator skipped for a
 * newer one, "not evaluated"; an evaluated round without figures had no held-out data.
 */
export function heldOutText(r: OperatorRound): string {
  const text = formatMetricValues(r.metrics);
  if (text !== null) return text;
  return r.evaluationMs === undefined ? 'not evaluated' : 'no held-out data';
}

/**
 * The held-out tile: the newest committed round whose evaluation has attached, with its version,
 * so the tile does not fall back to "not evaluated" each time a round commits ahead of its
 * evaluation; the newest committed round's own words while none is evaluated yet.
 */
export function heldOutTile(rounds: readonly OperatorRound[]): string {
  const committed = rounds.filter((r) => r.status === 'committed');
  const evaluated = committed.filter((r) => formatMetricValues(r.metrics) !== null).at(-1);
  if (evaluated) return `${heldOutText(evaluated)} (version ${evaluated.newVersion})`;
  const last = committed.at(-1);
  return last ? heldOutText(last) : '-';
}

/** Bytes of a dense float32 update of `dimension` parameters: what an uncompressed upload would take. */
export function denseBytes(dimension: number): number {
  return 4 * dimension;
}

/**
 * How many times smaller the uploads were than dense float32 updates (the `bytesUp` of the
 * rounds against `reported` x 4 x dimension), or null when nothing was uploaded.
 */
export function compressionRatio(rounds: readonly OperatorRound[], dimension: number): number | null {
  let sent = 0;
  let dense = 0;
  for (const r of rounds) {
    sent += r.bytesUp;
    dense += r.reported * denseBytes(dimension);
  }
  return sent > 0 ? dense / sent : null;
}

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

/** Totals over rounds, for the tiles. */
export function totals(rounds: readonly OperatorRound[]): {
  committed: number;
  abandoned: number;
  bytesUp: number;
  bytesDown: number;
  deadlineHits: number;
} {
  const t = { committed: 0, abandoned: 0, bytesUp: 0, bytesDown: 0, deadlineHits: 0 };
  for (const r of rounds) {
    if (r.status === 'committed') t.committed++;
    if (r.status === 'abandoned') t.abandoned++;
    if (r.deadlineHit) t.deadlineHits++;
    t.bytesUp += r.bytesUp;
    t.bytesDown += r.bytesDown;
  }
  return t;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/**
 * The metric names the rounds carry, held-out and clients' together: `loss` first, then the
 * others in the order they first appear, so each keeps its chart's place as rounds arrive.
 */
export function metricNames(rounds: readonly OperatorRound[]): string[] {
  const names = new Set<string>(['loss']);
  for (const r of rounds) {
    for (const name of Object.keys(r.metrics ?? {})) names.add(name);
    for (const c of r.clientMetrics) for (const name of Object.keys(c.metrics)) names.add(name);
  }
  return [...names];
}
