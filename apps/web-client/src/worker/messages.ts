import type {
  Backend,
  ClientMetrics,
  HeldOutReport,
  HeldOutSplit,
  LocalStrategy,
  TaskSpec,
  TrainableSpec,
  TrainingSpec,
} from '@pollen/fl-core';
import type { SecAggErrorReply, SecAggSendReply, SecAggWorkerRequest } from './secagg.ts';

/** Messages between the page and the training worker. */

/** The parts of a task spec the worker trains and evaluates by, and what of the model it trains. */
export type TrainTask = Pick<TaskSpec, 'model' | 'input' | 'target' | 'loss' | 'metrics'> & {
  readonly trainable?: TrainableSpec;
};

/** A fine-tuning task's frozen base: its checksum and its dense f32 frame, transferred. */
export interface BaseTransfer {
  readonly checksum: string;
  readonly frame: ArrayBuffer;
}

export interface InitRequest {
  readonly type: 'init';
  /** Force one backend (tests, or a user's choice); otherwise the best that works. */
  readonly preferred: Backend | null;
}

export interface TrainRequest {
  readonly type: 'train';
  readonly id: number;
  readonly taskId: string;
  /** What the model is, what it reads and predicts, and how it is scored. */
  readonly task: TrainTask;
  readonly training: TrainingSpec;
  /** The CPU share training may use, in (0, 1]: the visitor's, capped by the task's. */
  readonly cpuShare: number;
  /** The global model, float32, transferred. */
  readonly weights: ArrayBuffer;
  /** FedProx's mu and whether SCAFFOLD is on, as the round said. */
  readonly strategy: LocalStrategy;
  /** SCAFFOLD: the server's c, float32, transferred; null otherwise. */
  readonly control: ArrayBuffer | null;
  /** SCAFFOLD: this device's c_i from IndexedDB, float32, transferred; null for zeros. */
  readonly clientControl: ArrayBuffer | null;
  /**
   * The share of the examples kept apart and never trained on, on which the global model is
   * evaluated before training (the round's `evaluation`); 0: train on all, evaluate nothing.
   */
  readonly heldOutFraction: number;
  /** Which examples are held out (absent: by a hash of each key). */
  readonly heldOutSplit?: HeldOutSplit;
  /** Whether to score the global model on them before training (false: keep them apart only). */
  readonly reportHeldOut: boolean;
  /** A fine-tuning task's frozen base; the worker writes it into the model when its checksum changed. */
  readonly base: BaseTransfer | null;
}

/** An evaluation round: score the global model on the held-out examples, train nothing. */
export interface EvaluateRequest {
  readonly type: 'evaluate';
  readonly id: number;
  readonly taskId: string;
  readonly task: TrainTask;
  /** The global model, float32, transferred. */
  readonly weights: ArrayBuffer;
  readonly heldOutFraction: number;
  readonly heldOutSplit?: HeldOutSplit;
  readonly base: BaseTransfer | null;
}

export type WorkerRequest = InitRequest | TrainRequest | EvaluateRequest | SecAggWorkerRequest;

export interface ReadyReply {
  readonly type: 'ready';
  readonly backend: Backend;
  /** Why each better backend was not used. */
  readonly skipped: readonly { readonly backend: Backend; readonly reason: string }[];
  /** A later `ready`: the backend broke and the worker fell back to this one. */
  readonly recovery: boolean;
}

export interface ProgressReply {
  readonly type: 'progress';
  readonly id: number;
  readonly epoch: number;
  readonly epochs: number;
  readonly batch: number;
  readonly batches: number;
  readonly loss: number;
}

export interface ResultReply {
  readonly type: 'result';
  readonly id: number;
  /** w_local - w_global, float32, transferred. */
  readonly delta: ArrayBuffer;
  readonly numExamples: number;
  readonly metrics: ClientMetrics;
  /** Local optimizer steps taken (fewer than epochs x batches when the time budget ended training). */
  readonly steps: number;
  readonly numTensors: number;
  /** Bytes held by those tensors. */
  readonly numBytes: number;
  /** SCAFFOLD: c_i+, to keep once the round commits; null otherwise. */
  readonly clientControl: ArrayBuffer | null;
  /** SCAFFOLD: Delta c_i = c_i+ - c_i, to send with the update; null otherwise. */
  readonly controlDelta: ArrayBuffer | null;
  /** The global model's metrics on the held-out examples, before training; null when none were held out. */
  readonly heldOut: HeldOutReport | null;
}

export interface EvaluatedReply {
  readonly type: 'evaluated';
  readonly id: number;
  /** null: this device holds no held-out examples. */
  readonly heldOut: HeldOutReport | null;
}

export interface ErrorReply {
  readonly type: 'error';
  readonly id: number | null;
  readonly message: string;
}

export type WorkerReply =
  | ReadyReply
  | ProgressReply
  | ResultReply
  | EvaluatedReply
  | ErrorReply
  | SecAggSendReply
  | SecAggErrorReply;
