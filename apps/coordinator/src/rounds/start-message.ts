import { encodeDense } from '@pollen/compression';
import {
  type FrozenBaseRef,
  hashSeed,
  heldOutSettings,
  lrAt,
  type ModelDownload,
  type RoundCompression,
  type RoundStartMessage,
  type ServerStrategy,
  type TaskSpec,
} from '@pollen/fl-core';
import { downloadBytes } from './broadcast.ts';
import type { PrivacyPlan } from './privacy.ts';

/** A round's start message and the bytes each selected client downloads with it. */
export interface RoundStart {
  readonly message: RoundStartMessage;
  readonly bytesPerClient: number;
  /** Bytes of the dense model frame in `message.weights`. */
  readonly modelBytes: number;
}

/**
 * The message that tells a selected client to train: the round, the model version and its
 * weights as a dense frame (a client that holds an earlier broadcast model may get deltas
 * instead: `startFor`), the local strategy (FedProx's mu, SCAFFOLD's c) and the privacy
 * block. One message is built per round and sent to every client of it (and again to a client
 * that reconnects within its grace period).
 */
export function roundStart(
  spec: TaskSpec,
  options: {
    readonly roundId: number;
    readonly version: number;
    readonly weights: Float32Array;
    readonly deadline: number;
    readonly server: ServerStrategy;
    readonly privacy: PrivacyPlan | null;
    /** The round's upload compression (coordinates.ts); null: dense uploads of the task's codec. */
    readonly compression?: RoundCompression | null;
    /** A fine-tuning task's frozen base; null or absent: the weights are the whole model. */
    readonly base?: FrozenBaseRef | null;
    /**
     * Compressed downloads: the checksum of `weights` (the broadcast model, broadcast.ts), sent
     * as a dense f32 frame so that a device holds it bit for bit; absent: the task's codec.
     */
    readonly modelChecksum?: string | null;
  },
): RoundStart {
  const meta = { round: options.roundId, taskTag: hashSeed(spec.id) };
  const weights = encodeDense(options.weights, options.modelChecksum ? 'f32' : spec.codec, meta);
  const c = options.server.control();
  const control = c ? encodeDense(c, spec.codec, meta) : null;
  const message: RoundStartMessage = {
    taskId: spec.id,
    roundId: options.roundId,
    modelVersion: options.version,
    deadline: options.deadline,
    training: roundTraining(spec, options.version),
    codec: spec.codec,
    weights,
    ...(options.modelChecksum ? { modelChecksum: options.modelChecksum } : {}),
    ...(options.base ? { base: options.base } : {}),
    strategy: {
      proximalMu: spec.strategy.mu,
      scaffold: spec.strategy.scaffold,
      ...(spec.strategy.fednova ? { fednova: true } : {}),
    },
    ...(control ? { control } : {}),
    ...(options.privacy ? { privacy: options.privacy.message } : {}),
    ...(options.compression ? { compression: options.compression } : {}),
    // Every round of a task that evaluates on the devices keeps the held-out examples apart,
    // also the rounds that take no report on them: an evaluation round scores them later.
    ...(spec.evaluation
      ? {
          evaluation: {
            ...heldOutSettings(spec.evaluation),
            ...(asksHeldOut(spec, options.privacy) ? {} : { report: false as const }),
          },
        }
      : {}),
  };
  const coordinateBytes = options.compression?.coordinates?.byteLength ?? 0;
  return {
    message,
    bytesPerClient: weights.byteLength + (control?.byteLength ?? 0) + coordinateBytes,
    modelBytes: weights.byteLength,
  };
}

/**
 * Whether a round's clients report the global model's metrics on their held-out examples: when
 * the task evaluates on the devices, except where per-client reports are not kept (differential
 * privacy: a record then holds no client's metrics) or not seen (secure aggregation).
 */
export function asksHeldOut(spec: TaskSpec, privacy: PrivacyPlan | null): boolean {
  return spec.evaluation !== undefined && !spec.secureAggregation && !privacy?.private;
}

/**
 * The round's training block: the task's, with the learning rate its schedule gives at round
 * t = the model version the round trains from (fl-core's schedule.ts).
 */
export function roundTraining(spec: TaskSpec, version: number): TaskSpec['training'] {
  const { training } = spec;
  if (!training.schedule || training.schedule.kind === 'constant') return training;
  return { ...training, learningRate: lrAt(training.learningRate, training.schedule, version) };
}

/**
 * The start one client gets: the round's, or under compressed downloads, for a client that
 * holds a broadcast model of the window, the deltas from it when they are smaller than the
 * dense frame. Returns the message and the bytes it carries down.
 */
export function startFor(
  start: RoundStart,
  download: ModelDownload | null,
): { readonly message: RoundStartMessage; readonly bytes: number } {
  const frames = download ? downloadBytes(download) : 0;
  if (!download || frames >= start.modelBytes) return { message: start.message, bytes: start.bytesPerClient };
  const { weights: _dense, ...rest } = start.message;
  return { message: { ...rest, download }, bytes: start.bytesPerClient - start.modelBytes + frames };
}
