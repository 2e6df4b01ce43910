import { type Backend, type ClientMetrics, onDevices } from '@pollen/fl-core';
import type { ClientRoundMetrics, RoundRecord } from '../store/types.ts';
import { type PrivacyPlan, privacyRecord } from './privacy.ts';

/** One report as a round's record counts it. */
export interface CountedReport {
  readonly numExamples: number;
  readonly backend: Backend;
  readonly metrics: ClientMetrics;
}

/**
 * What a round's record counts of the reports it took: their backends, their clients' metrics,
 * the bytes they sent and the messages refused. Every kind of round keeps one.
 */
export class Tally {
  readonly metrics: ClientRoundMetrics[] = [];
  readonly backends: Partial<Record<Backend, number>> = {};
  bytesUp = 0;
  bytesDown = 0;
  rejected = 0;

  count(report: CountedReport): void {
    this.backends[report.backend] = (this.backends[report.backend] ?? 0) + 1;
    this.metrics.push({ ...report.metrics, numExamples: report.numExamples, backend: report.backend });
  }

  /** Another tally's counts (a cluster node's partial of the round). */
  merge(other: {
    readonly rejected: number;
    readonly bytesUp: number;
    readonly backends: Partial<Record<Backend, number>>;
    readonly metrics: readonly ClientRoundMetrics[];
  }): void {
    this.rejected += other.rejected;
    this.bytesUp += other.bytesUp;
    for (const [backend, n] of Object.entries(other.backends) as [Backend, number][]) {
      this.backends[backend] = (this.backends[backend] ?? 0) + n;
    }
    this.metrics.push(...other.metrics);
  }
}

/** What a round says about itself for its record. */
export interface RecordSource {
  readonly taskId: string;
  readonly roundId: number;
  readonly baseVersion: number;
  readonly startedAt: number;
  readonly selected: number;
  readonly reported: number;
  /** Default: selected less reported. */
  readonly dropped?: number;
  readonly deadlineHit: boolean;
  readonly reason: string | null;
  readonly privacy: PrivacyPlan | null;
  readonly tally: Tally;
  /** The reports whose metrics the record lists; default: all the tally's. */
  readonly clientMetrics?: readonly ClientRoundMetrics[];
  /** Backends counted over those reports; default: the tally's. */
  readonly backends?: Partial<Record<Backend, number>>;
  readonly extra?: Partial<RoundRecord>;
}

/**
 * A round's record as it stands: the one place a record is built, whichever kind of round it
 * is. `fields` override (status, new version, end time, and what the commit adds).
 */
export function buildRecord(source: RecordSource, fields: Partial<RoundRecord> = {}): RoundRecord {
  const { tally, privacy } = source;
  // Under DP the clients' own metrics are not noised: kept out of the record.
  const clientMetrics = privacy?.private ? [] : [...(source.clientMetrics ?? tally.metrics)];
  const devices = onDevices(
    source.baseVersion,
    clientMetrics.flatMap((m) => (m.heldOut ? [m.heldOut] : [])),
  );
  return {
    taskId: source.taskId,
    roundId: source.roundId,
    status: 'open',
    baseVersion: source.baseVersion,
    newVersion: null,
    selected: source.selected,
    reported: source.reported,
    dropped: source.dropped ?? source.selected - source.reported,
    rejected: tally.rejected,
    deadlineHit: source.deadlineHit,
    startedAt: source.startedAt,
    endedAt: null,
    metrics: null,
    bytesUp: tally.bytesUp,
    bytesDown: tally.bytesDown,
    backends: { ...(source.backends ?? tally.backends) },
    clientMetrics,
    ...(devices ? { onDevices: devices } : {}),
    reason: source.reason,
    ...source.extra,
    ...(privacy ? { privacy: privacyRecord(privacy, privacy.message.epsilonBefore) } : {}),
    ...fields,
  };
}
