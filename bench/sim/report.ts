import { cpus } from 'node:os';
import type {
  ClientSpread,
  MetricValues,
  OnDevices,
  OperatorEvaluationRound,
  OperatorRound,
} from '@pollen/fl-core';
import type { Baseline } from '@pollen/ml';
import { median } from '../lib/stats.ts';
import type { OpenTaskReport } from './open-task.ts';
import type { SimOptions } from './options.ts';

/** A round record as the coordinator's API returns it: the operator protocol's own type. */
export type ApiRound = OperatorRound;
export type ApiEvaluation = OperatorEvaluationRound;

/** An evaluation round as the report keeps it (`--federated-eval`): what the devices said of one version. */
export interface ReportEvaluation {
  readonly evaluation: number;
  readonly status: ApiEvaluation['status'];
  readonly selected: number;
  readonly reported: number;
  readonly dropped: number;
  /** The version scored, the clients and examples, example-weighted means and the spread across clients. */
  readonly federatedEvaluation: OnDevices | null;
}

/** The closed evaluation rounds of a run, oldest first. */
export function reportEvaluations(records: readonly ApiEvaluation[]): ReportEvaluation[] {
  return records
    .filter((r) => r.status !== 'open')
    .map((r) => ({
      evaluation: r.evaluationId,
      status: r.status,
      selected: r.selected,
      reported: r.reported,
      dropped: r.dropped,
      federatedEvaluation: r.federatedEvaluation,
    }));
}

/** One round of the report. */
export interface ReportRound {
  readonly round: number;
  readonly status: 'committed' | 'abandoned';
  readonly version: number | null;
  readonly selected: number;
  readonly reported: number;
  readonly dropped: number;
  readonly rejected: number;
  readonly deadlineHit: boolean;
  /** Held-out `loss` and the task's metrics of the version the round committed; null otherwise. */
  readonly metrics: MetricValues | null;
  readonly bytesUp: number;
  readonly bytesDown: number;
  /** Seconds from the round's start to its close. */
  readonly wallS: number;
  /** Seconds from the first round's start to this round's close. */
  readonly elapsedS: number;
  /** The task's epsilon once this round closed; null without differential privacy. */
  readonly epsilon: number | null;
  /** C the clients clipped to and the noise std each added; null when the task does not clip. */
  readonly clipNorm: number | null;
  readonly noiseStd: number | null;
  readonly backends: Record<string, number>;
  readonly reason: string | null;
  /** The slowest reporting client's local training, in seconds (the round's critical path on devices); null without reports. */
  readonly slowestTrainS: number | null;
  /** Examples a reporting client held, median over them; null without reports. */
  readonly examplesPerClient: number | null;
  /** Examples the largest reporting client held (the slowest, at equal speed); null without reports. */
  readonly largestClientExamples: number | null;
  /**
   * The global model this round trained from, on the clients' own held-out examples (`--device-held-out`),
   * by metric: its spread across the reporting clients; null when no client reported one.
   */
  readonly onDevices: Readonly<Record<string, ClientSpread>> | null;
}

/** The one-line summary `pnpm sim` prints last. */
export interface SimSummary {
  readonly sim: 'node' | 'browser';
  readonly clients: number;
  readonly rounds: number;
  readonly committed: number;
  readonly abandoned: number;
  /** Held-out metrics of the last committed version. */
  readonly metrics: MetricValues | null;
  /** Its held-out accuracy, for tasks that measure accuracy (what --target compares with). */
  readonly accuracy: number | null;
  readonly bestAccuracy: number | null;
  /** First round whose held-out accuracy reached --target, if one was given and reached. */
  readonly roundToTarget: number | null;
  readonly secondsToTarget: number | null;
  /** Seconds from the start of the command to the end of the last round. */
  readonly wallS: number;
  /** Seconds spent starting the coordinator and the clients, before the first round. */
  readonly setupS: number;
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly epsilon: number | null;
  /** Regression (`--data`): held-out MSE of predicting the training mean, and the last committed MSE over it. */
  readonly baselineMse: number | null;
  readonly mseRatio: number | null;
  /** The last committed round's spread across clients on their own held-out examples (`--device-held-out`). */
  readonly onDevices: Readonly<Record<string, ClientSpread>> | null;
  /** The last complete evaluation round (`--federated-eval`): version, metrics, clients, distribution. */
  readonly federatedEvaluation: OnDevices | null;
  readonly ok: boolean;
  readonly stopped: 'completed' | 'target' | 'budget-exhausted' | 'stopped' | 'timeout' | 'error';
  readonly report: string;
  readonly plot: string;
}

export interface SimReport {
  readonly generatedAt: string;
  readonly command: string;
  readonly machine: { readonly cpus: number; readonly cpuModel: string; readonly node: string };
  readonly options: SimOptions;
  readonly task: Record<string, unknown>;
  /** Held-out metrics of the untrained model (version 0). */
  readonly initialMetrics: MetricValues | null;
  readonly rounds: readonly ReportRound[];
  /** Evaluation rounds (`--federated-eval`); empty without them. */
  readonly evaluations: readonly ReportEvaluation[];
  readonly population: Record<string, number | string>;
  /** The task file and data file of `--task --data`; null for the built-in digits. */
  readonly data: OpenTaskReport | null;
  /** A built-in task's baselines on its held-out split (`--task next-char|spam`); empty otherwise. */
  readonly baselines: readonly Baseline[];
  readonly error: string | null;
  readonly summary: SimSummary;
}

/** Turn the coordinator's closed round records into report rows, times relative to the first round. */
export function reportRounds(records: readonly ApiRound[]): ReportRound[] {
  const closed = records.filter((r) => r.status !== 'open').sort((a, b) => a.roundId - b.roundId);
  const t0 = closed[0]?.startedAt ?? 0;
  return closed.map((r) => ({
    round: r.roundId,
    status: r.status as 'committed' | 'abandoned',
    version: r.newVersion,
    selected: r.selected,
    reported: r.reported,
    dropped: r.dropped,
    rejected: r.rejected,
    deadlineHit: r.deadlineHit,
    metrics: r.metrics,
    bytesUp: r.bytesUp,
    bytesDown: r.bytesDown,
    wallS: ((r.endedAt ?? r.startedAt) - r.startedAt) / 1000,
    elapsedS: ((r.endedAt ?? r.startedAt) - t0) / 1000,
    epsilon: r.privacy?.epsilon ?? null,
    clipNorm: r.privacy?.clipNorm ?? null,
    noiseStd: r.privacy?.noiseStd ?? null,
    backends: r.backends,
    reason: r.reason,
    slowestTrainS: r.clientMetrics.length ? Math.max(...r.clientMetrics.map((c) => c.trainMs)) / 1000 : null,
    examplesPerClient: r.clientMetrics.length ? median(r.clientMetrics.map((c) => c.numExamples)) : null,
    largestClientExamples: r.clientMetrics.length
      ? Math.max(...r.clientMetrics.map((c) => c.numExamples))
      : null,
    onDevices: r.onDevices?.distribution ?? null,
  }));
}

/** A round's held-out MSE: the `mse` metric, or the loss when the loss is the MSE; null otherwise. */
export function heldOutMse(metrics: MetricValues | null, loss: unknown): number | null {
  return metrics?.mse ?? (loss === 'meanSquaredError' ? (metrics?.loss ?? null) : null);
}

/** Describe this machine, for reports and benchmark tables. */
export function machine(): SimReport['machine'] {
  const list = cpus();
  return { cpus: list.length, cpuModel: list[0]?.model.trim() ?? 'unknown', node: process.version };
}
