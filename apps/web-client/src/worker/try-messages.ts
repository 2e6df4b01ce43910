import type { Backend } from '@pollen/fl-core';
import type { TrainTask } from './messages.ts';

/**
 * Messages between the contributor page and the worker that tries the global model on the
 * visitor's own input (try.worker.ts). Nothing in them leaves the tab.
 */

export interface TryLoadRequest {
  readonly type: 'load';
  readonly task: TrainTask;
  /** The global weights, float32 in the order of the task's weight spec, transferred. */
  readonly weights: ArrayBuffer;
  readonly version: number;
  /** Force one backend (tests); otherwise the best that works. */
  readonly preferred: Backend | null;
}

export interface TryPredictRequest {
  readonly type: 'predict';
  readonly id: number;
  /** One example's features, encoded as the task's input (its shape and dtype). */
  readonly x: ArrayLike<number>;
}

export type TryRequest = TryLoadRequest | TryPredictRequest;

export interface TryLoadedReply {
  readonly type: 'loaded';
  readonly version: number;
  readonly backend: Backend;
}

export interface TryPredictionReply {
  readonly type: 'prediction';
  readonly id: number;
  /** The version that predicted it. */
  readonly version: number;
  /** The model's output for the example: class probabilities (of the last position of a sequence). */
  readonly probs: Float32Array;
}

export interface TryErrorReply {
  readonly type: 'error';
  readonly id: number | null;
  readonly message: string;
}

export type TryReply = TryLoadedReply | TryPredictionReply | TryErrorReply;
