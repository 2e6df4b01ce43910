import type { MetricValues } from './metric-values.ts';
import type { PrivacyMode } from './privacy/settings.ts';
import type { Ack, Backend, ClientMetrics } from './protocol.ts';
import type { OnDevices } from './spread.ts';
import type { HeldOutReport } from './task/evaluation.ts';
import type { TaskStatus } from './task.ts';

/**
 * The typed Socket.io protocol between the coordinator and operator dashboards, on the
 * namespace `/operator`. A dashboard connects with `auth: { token }` (an operator token, the
 * same ones the REST API takes as `Authorization: Bearer`); any other connection is refused
 * before it can subscribe or control anything.
 */
export const OPERATOR_NAMESPACE = '/operator';

/** Connected contributors of a task. */
export interface PopulationCounts {
  readonly total: number;
  /** Eligible, holding examples and in no round: who the next round can select. */
  readonly available: number;
  /** In an evaluation round now (task `evaluation.federated`): not available to training meanwhile. */
  readonly evaluating: number;
  readonly byBackend: Partial<Record<Backend, number>>;
}

/** A task as an operator watches it. */
export interface OperatorTask {
  readonly id: string;
  readonly name: string;
  readonly status: TaskStatus;
  readonly currentVersion: number;
  /** Parameters of the model: a dense float32 update is 4 bytes each. */
  readonly dimension: number;
  readonly population: PopulationCounts;
  /** The round in flight, if any. */
  readonly round: number | null;
}

/** One selected client's local metrics in a round. */
export interface OperatorClientMetrics extends ClientMetrics {
  readonly numExamples: number;
  readonly backend: Backend;
  /** The global model's metrics on the client's held-out examples before it trained (task `evaluation`). */
  readonly heldOut?: HeldOutReport;
}

/** A round's differential privacy, for tasks that clip: what its clients did and what it cost. */
export interface OperatorRoundPrivacy {
  readonly mode: PrivacyMode;
  /** C the round's clients clipped to. */
  readonly clipNorm: number;
  /** Std of the Gaussian noise each client added per coordinate. */
  readonly noiseStd: number;
  /** q and z charged to the ledger if the round commits (0 and 0 in mode 'off'). */
  readonly samplingRate: number;
  readonly noiseMultiplier: number;
  readonly delta: number | null;
  /** The task's epsilon once this round closed: after it, if it committed; unchanged otherwise. */
  readonly epsilon: number | null;
  /** Adaptive clipping: the noised fraction of clients at or below C, and the C it led to. */
  readonly clipBits?: { readonly noisedFraction: number; readonly nextClipNorm: number };
}

/**
 * A round as the coordinator records it (open while in flight, then committed or abandoned):
 * the one type of a round record, stored by the coordinator and pushed to dashboards.
 */
export interface OperatorRound {
  readonly taskId: string;
  readonly roundId: number;
  readonly status: 'open' | 'committed' | 'abandoned';
  readonly baseVersion: number;
  readonly newVersion: number | null;
  readonly selected: number;
  /** Eligible, idle clients when the cohort was drawn. */
  readonly eligible?: number;
  /** The Poisson rate used (q * overSelection) and whether the cohort was clamped to its bounds. */
  readonly sampling?: { readonly rate: number; readonly clamped: 'none' | 'min' | 'max' };
  readonly reported: number;
  readonly dropped: number;
  readonly rejected: number;
  readonly deadlineHit: boolean;
  readonly startedAt: number;
  readonly endedAt: number | null;
  /**
   * Held-out metrics (`loss` and the task's declared metrics) of the model the round committed;
   * null when the round did not commit, while the evaluation that runs after the commit has not
   * attached them (it may be skipped for a newer version: "not evaluated"), or when the task
   * has no held-out data (then `evaluationMs` is set).
   */
  readonly metrics: MetricValues | null;
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly backends: Partial<Record<Backend, number>>;
  readonly clientMetrics: readonly OperatorClientMetrics[];
  /**
   * The global model the round trained from, on its clients' own held-out examples (task
   * `evaluation`): example-weighted means and the spread across clients; absent when no
   * client reported one.
   */
  readonly onDevices?: OnDevices;
  readonly reason: string | null;
  /** The round's clipping, noise and the task's epsilon after it; absent for a task that does not clip. */
  readonly privacy?: OperatorRoundPrivacy;
  /** SHA-256 (hex) of the committed weights as stored (little-endian float32), for committed rounds. */
  readonly checksum?: string;
  /** How the round was scheduled: a synchronous cohort or a FedBuff buffer (absent: 'sync'). */
  readonly mode?: 'sync' | 'buffered';
  /** How stale what it committed was; absent for rounds that did not commit. */
  readonly staleness?: OperatorRoundStaleness;
  /** Milliseconds spent aggregating and applying the server strategy (held-out evaluation excluded). */
  readonly aggregationMs?: number;
  /**
   * Milliseconds of held-out evaluation of the committed model; absent until that evaluation,
   * which runs after the commit, attached its metrics, and for a version it skipped.
   */
  readonly evaluationMs?: number;
}

/**
 * Staleness of a committed round, s(tau) = (1 + tau)^-a (strategy.staleness). A synchronous
 * round trained on `baseVersion` and committed `newVersion` = baseVersion + 1 + tau: its whole
 * aggregate was weighted by `weight`. A buffered round weighs each update by its own tau:
 * `byTau` counts the updates at each tau, `tau` is the largest and `weight` the mean weight.
 */
export interface OperatorRoundStaleness {
  readonly tau: number;
  readonly weight: number;
  readonly byTau?: Readonly<Record<string, number>>;
  /** Updates left out because they were more than tau_max versions behind when aggregated. */
  readonly droppedStale?: number;
}

/**
 * A federated evaluation round (task `evaluation.federated`): idle devices scored one version on
 * their held-out examples. `open` while it runs; `complete` with at least `minReports` reports,
 * else `insufficient` (its figures are then kept but not the task's); `abandoned` when the
 * coordinator stopped first.
 */
export interface OperatorEvaluationRound {
  readonly taskId: string;
  readonly evaluationId: number;
  readonly version: number;
  readonly status: 'open' | 'complete' | 'insufficient' | 'abandoned';
  readonly selected: number;
  /** Eligible, idle clients when the cohort was drawn. */
  readonly eligible: number;
  readonly sampling: { readonly rate: number; readonly clamped: 'none' | 'min' | 'max' };
  readonly minReports: number;
  readonly reported: number;
  /** Selected and no report: left, became ineligible, held no held-out examples, or missed the deadline. */
  readonly dropped: number;
  /** Reports refused (bad metrics or counts): the client counts as dropped too. */
  readonly rejected: number;
  readonly deadlineHit: boolean;
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly bytesDown: number;
  readonly bytesUp: number;
  /**
   * Example-weighted means and the spread across the clients that reported; null before any
   * did. Under secure aggregation (`secure`) only the totals: means and counts, an empty
   * `distribution`, since no report of any one device reaches the coordinator.
   */
  readonly federatedEvaluation: OnDevices | null;
  /** The reports went through SecAgg+: the record holds totals only. */
  readonly secure?: boolean;
  readonly reason: string | null;
}

/** What a dashboard gets when it subscribes to a task: the task, its latest rounds and evaluation rounds. */
export interface OperatorSnapshot {
  readonly task: OperatorTask;
  readonly rounds: readonly OperatorRound[];
  readonly evaluations: readonly OperatorEvaluationRound[];
}

/** Task controls an operator has on the namespace. */
export const OPERATOR_ACTIONS = ['start', 'pause'] as const;
export type OperatorAction = (typeof OPERATOR_ACTIONS)[number];

export interface OperatorClientToServerEvents {
  /** Watch a task: the reply is its snapshot; `round` and `task` events follow. */
  subscribe: (msg: { readonly taskId: string }, ack: (reply: Ack<OperatorSnapshot>) => void) => void;
  /** Resume (`start`) or pause a task. */
  control: (
    msg: { readonly taskId: string; readonly action: OperatorAction },
    ack: (reply: Ack<{ readonly task: OperatorTask }>) => void,
  ) => void;
}

export interface OperatorServerToClientEvents {
  /** A round of a watched task opened, progressed or closed. */
  round: (round: OperatorRound) => void;
  /** An evaluation round of a watched task opened, progressed or closed. */
  evaluation: (evaluation: OperatorEvaluationRound) => void;
  /** A watched task's status, version or population changed. */
  task: (task: OperatorTask) => void;
}
