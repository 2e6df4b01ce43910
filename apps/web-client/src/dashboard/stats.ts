import { formatMetricValues, type OperatorEvaluationRound, type OperatorRound } from '@pollen/fl-core';

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
export function heldOutTile(
  rounds: readonly OperatorRound[],
  evaluations: readonly OperatorEvaluationRound[] = [],
): string {
  const committed = rounds.filter((r) => r.status === 'committed');
  const evaluated = committed.filter((r) => formatMetricValues(r.metrics) !== null).at(-1);
  if (evaluated) return `${heldOutText(evaluated)} (version ${evaluated.newVersion})`;
  // Without held-out data on the coordinator, the figure is the devices' own: an evaluation
  // round's (task `evaluation.federated`), else the training rounds' reports (task `evaluation`).
  const federated = latestFederated(evaluations);
  if (federated) {
    return `${formatMetricValues(federated.metrics)} across ${federated.clients} devices (federated evaluation of version ${federated.version})`;
  }
  const last = committed.at(-1);
  const devices = committed.findLast((r) => r.onDevices !== undefined)?.onDevices;
  if (last && devices && last.evaluationMs !== undefined && last.metrics === null) {
    return `${formatMetricValues(devices.metrics)} on ${devices.clients} clients' held-out examples (version ${devices.version})`;
  }
  return last ? heldOutText(last) : '-';
}

/** The newest complete evaluation round's figures (task `evaluation.federated`); null before one. */
export function latestFederated(
  evaluations: readonly OperatorEvaluationRound[],
): OperatorEvaluationRound['federatedEvaluation'] {
  return evaluations.findLast((e) => e.status === 'complete')?.federatedEvaluation ?? null;
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

/**
 * How many times smaller the downloads were than a dense float32 model for each selected
 * client (the `bytesDown` of the rounds against `selected` x 4 x dimension: compressed
 * downloads, docs/design.md), or null when nothing was sent down.
 */
export function downloadCompressionRatio(rounds: readonly OperatorRound[], dimension: number): number | null {
  let sent = 0;
  let dense = 0;
  for (const r of rounds) {
    sent += r.bytesDown;
    dense += r.selected * denseBytes(dimension);
  }
  return sent > 0 ? dense / sent : null;
}

/** The spread of a sample across clients: fl-core's, shared with `pnpm sim`'s report. */
export { type FiveNumbers, fiveNumbers, quantile } from '@pollen/fl-core';

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
