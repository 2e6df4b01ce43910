import type {
  MetricValues,
  OperatorClientMetrics,
  OperatorEvaluationRound,
  OperatorRound,
  OperatorRoundPrivacy,
  PrivacyLedgerJson,
  StrategyConfig,
  StrategyState,
  TaskSpec,
  TaskStatus,
  TreeLedgerJson,
  WeightSpec,
} from '@pollen/fl-core';
import type { RetentionPlan } from './retention.ts';

/** A stored task: its spec, the weight layout and where it stands. */
export interface StoredTask {
  readonly spec: TaskSpec;
  readonly weightSpec: WeightSpec;
  readonly status: TaskStatus;
  readonly createdAt: number;
  readonly currentVersion: number;
}

/** A round record, typed once in the operator protocol and stored as it is pushed. */
export type RoundRecord = OperatorRound;
export type RoundStatus = OperatorRound['status'];
/** A federated evaluation round's record (task `evaluation.federated`), stored as it is pushed. */
export type EvaluationRecord = OperatorEvaluationRound;
/** One client's local metrics for a round, kept so the dashboard can show the spread. */
export type ClientRoundMetrics = OperatorClientMetrics;

/** A round's differential privacy, as the operator protocol types it. */
export type RoundPrivacyRecord = OperatorRoundPrivacy;

/**
 * What a commit writes of a task's privacy: the ledger (null in mode 'off'; a tree ledger,
 * with the participation record, in mode 'ftrl') and the next round's C.
 */
export interface PrivacyState {
  readonly ledger: PrivacyLedgerJson | TreeLedgerJson | null;
  readonly clipNorm: number | null;
}

/** A task's privacy as stored. */
export interface StoredPrivacy extends PrivacyState {
  /** The model version it was committed with. */
  readonly version: number;
  /** Why the task stopped on its budget, or null. */
  readonly exhausted: string | null;
}

/** A committed global model. */
export interface ModelVersion {
  readonly taskId: string;
  readonly version: number;
  readonly roundId: number | null;
  readonly createdAt: number;
  readonly weights: Float32Array;
  /**
   * Held-out metrics of this version; null until its evaluation attached them (it runs after
   * the commit), when the evaluator skipped it for a newer version, or without held-out data.
   */
  readonly metrics: MetricValues | null;
}

/** A version as listed: everything but the weights, and whether retention dropped them. */
export interface VersionInfo extends Omit<ModelVersion, 'weights'> {
  /** The weights were pruned (retention.ts); the round record and its checksum remain. */
  readonly pruned: boolean;
}

/** A task's server strategy state (optimizer moments, SCAFFOLD's c) as committed with a version. */
export interface StoredStrategyState {
  /** The model version it was committed with. */
  readonly version: number;
  /** The strategy config that produced it: a task whose config changed may not fit it. */
  readonly config: StrategyConfig;
  readonly state: StrategyState;
}

/** A task's uploaded held-out examples as stored: how many, their size, SHA-256 and upload time. */
export interface HeldOutInfo {
  readonly taskId: string;
  readonly count: number;
  /** Bytes of the encoded examples (@pollen/ml's example codec, in the task's dtypes). */
  readonly bytes: number;
  /** SHA-256 of the encoded examples, hex: what an evaluator's cache is checked against. */
  readonly digest: string;
  readonly uploadedAt: number;
}

/** Uploaded held-out examples with their bytes. */
export interface StoredHeldOut extends HeldOutInfo {
  readonly data: Uint8Array;
}

/**
 * A fencing token (Kleppmann, "How to do distributed locking", 2016): the number a round
 * lease was granted with. The store remembers the highest token it saw per task and refuses
 * a write carrying a lower one with LEASE_LOST, so a node that lost its lease (paused, cut
 * off) cannot open, commit or abandon a round after another node took over. One process
 * without a cluster passes none.
 */
export interface Fence {
  readonly token: number;
}

/**
 * Durable state of the coordinator. Every method is atomic: a crash between two calls
 * leaves the state of the last one that returned. Methods return promises so the same
 * interface fits the embedded SQLite file (synchronous inside) and a PostgreSQL server
 * shared by several coordinators.
 */
export interface Store {
  createTask(
    spec: TaskSpec,
    weightSpec: WeightSpec,
    initial: Float32Array,
    initialMetrics: Evaluated,
  ): Promise<StoredTask>;
  getTask(taskId: string): Promise<StoredTask | undefined>;
  listTasks(): Promise<StoredTask[]>;
  setTaskStatus(taskId: string, status: TaskStatus): Promise<void>;
  /** Replace a task's spec (same id and weight layout; the caller validates). */
  updateTaskSpec(spec: TaskSpec): Promise<void>;
  /** A version and its weights; VERSION_PRUNED when retention dropped them. */
  getVersion(taskId: string, version: number): Promise<ModelVersion | undefined>;
  listVersions(taskId: string): Promise<VersionInfo[]>;
  /** Record a round as open before any client is told of it. */
  openRound(record: RoundRecord, fence?: Fence): Promise<void>;
  /**
   * Commit a round: the new model version, the round record, the task's current version and,
   * when given, the strategy state and the privacy ledger that go with the new version, and the
   * weights `retention` drops (retention.ts), in one transaction: a crash anywhere in it leaves
   * neither the version nor any pruning. Returns the versions pruned.
   */
  commitRound(
    record: RoundRecord,
    weights: Float32Array,
    strategy?: { readonly config: StrategyConfig; readonly state: StrategyState },
    privacy?: PrivacyState,
    fence?: Fence,
    retention?: RetentionPlan,
  ): Promise<number[]>;
  /**
   * A committed version's held-out evaluation, which runs after its commit: the version's
   * metrics and its round record's `metrics` and `evaluationMs`, together. Returns the record
   * as it now stands, or undefined for a version no round committed (version 0).
   */
  attachEvaluation(
    taskId: string,
    version: number,
    metrics: Evaluated,
    evaluationMs: number,
  ): Promise<RoundRecord | undefined>;
  /** The privacy ledger and adaptive clip norm committed last for a task, if any. */
  getPrivacy(taskId: string): Promise<StoredPrivacy | undefined>;
  /** Stop a task on its privacy budget: status 'budget-exhausted' and the reason, together. */
  exhaustBudget(taskId: string, reason: string): Promise<void>;
  /** The strategy state committed last for a task, if any round committed one. */
  getStrategyState(taskId: string): Promise<StoredStrategyState | undefined>;
  /** Close a round without a new model. */
  abandonRound(record: RoundRecord, fence?: Fence): Promise<void>;
  /**
   * Rounds left open by a crash are abandoned; returns how many. Without a scope, every task's
   * (one process starting); with one, only that task's, under the fence of the node that just
   * took its lease (the previous holder died mid-round).
   */
  abandonOpenRounds(
    reason: string,
    scope?: { readonly taskId: string; readonly fence: Fence },
  ): Promise<number>;
  listRounds(taskId: string, options?: { after?: number; limit?: number }): Promise<RoundRecord[]>;
  nextRoundId(taskId: string): Promise<number>;
  /** Write an evaluation round's record as it now stands (opened, then closed), under the task's fence. */
  saveEvaluation(record: EvaluationRecord, fence?: Fence): Promise<void>;
  /** A task's evaluation rounds by id; `latest`: only the last that many. */
  listEvaluations(taskId: string, options?: { latest?: number }): Promise<EvaluationRecord[]>;
  nextEvaluationId(taskId: string): Promise<number>;
  /** Evaluation rounds left open by a crash are abandoned (one process starting); returns how many. */
  abandonOpenEvaluations(reason: string, scope?: { readonly taskId: string }): Promise<number>;
  /** The demo shard of a client for a task, assigned round-robin on first sight and kept. */
  shardFor(clientId: string, taskId: string, numShards: number): Promise<number>;
  /**
   * Bind a client id to the hash of its secret on first sight; return the hash on record
   * (the given one when this call bound it). The caller compares, in constant time.
   */
  claimClient(clientId: string, secretHash: string): Promise<string>;
  /** Keep a task's held-out examples (encoded), replacing any it had; UNKNOWN_TASK without the task. */
  putHeldOut(taskId: string, count: number, data: Uint8Array): Promise<HeldOutInfo>;
  /** What a task's uploaded held-out examples are, without reading their bytes. */
  getHeldOutInfo(taskId: string): Promise<HeldOutInfo | undefined>;
  getHeldOut(taskId: string): Promise<StoredHeldOut | undefined>;
  /** Forget a task's uploaded held-out examples; false when it had none. */
  deleteHeldOut(taskId: string): Promise<boolean>;
  close(): Promise<void>;
}

/** A held-out evaluation: the named metrics, or null for a task without held-out data. */
export type Evaluated = MetricValues | null;
