import { FRAME_HEADER_BYTES, maxUploadBytes, type UploadPlan } from '@pollen/compression';
import { compressionK, PollenError, specSize } from '@pollen/fl-core';
import type { StoredTask } from '../store/types.ts';
import type { Submission } from './handle.ts';
import { decodeRoundUpload, type ParsedUpdate, parseUpdate } from './messages.ts';
import type { PrivacyPlan } from './privacy.ts';
import type { AcceptedUpdate } from './round.ts';

/** Largest payload a task's update may take: a dense float32 frame, two under SCAFFOLD (Delta c_i). */
export function maxUpdateBytes(task: StoredTask): number {
  return uploadBytes(task, true);
}

/**
 * What an upload slot counts for a task's update (upload-slots.ts): its compressed frame's
 * bound when the task compresses, else the dense frame; SCAFFOLD's Delta c_i besides.
 */
export function uploadSlotBytes(task: StoredTask): number {
  return uploadBytes(task, false);
}

function uploadBytes(task: StoredTask, atLeastDense: boolean): number {
  const d = specSize(task.weightSpec);
  const dense = FRAME_HEADER_BYTES + d * 4;
  // A sparse upload near full density (values plus up to 5 index bytes each) can outgrow the
  // dense frame; the round's own decoder holds each upload to its plan's exact bound.
  const { compression, codec } = task.spec;
  const plan = { ...compression, precision: codec, k: compressionK(compression, d) };
  const compressed = maxUploadBytes(plan, d);
  const update =
    compression.kind === 'none' ? dense : atLeastDense ? Math.max(dense, compressed) : compressed;
  return update + (task.spec.strategy.scaffold ? dense : 0);
}

/**
 * The intake's first step, before the round is looked up: the envelope's fields, and the
 * payload's size against the task's bound (PAYLOAD_TOO_LARGE) before anything is decoded.
 */
export function parseSubmission(input: unknown, task: StoredTask): ParsedUpdate {
  return parseUpdate(input, maxUpdateBytes(task), task.spec.metrics);
}

/** What a round that takes plain updates tells its intake. */
export interface IntakeStages {
  readonly roundId: number;
  /** The version the client was given: an update built on another is STALE_MODEL. */
  readonly baseVersion: number;
  readonly dimension: number;
  /** How uploads are encoded; null: dense frames of the task's codec. */
  readonly upload: UploadPlan | null;
  readonly privacy: PrivacyPlan | null;
  /** Whether the round's start asked for the global model's metrics on held-out examples. */
  readonly heldOut: boolean;
  checkMembership(clientId: string): void;
  /** Fold a decoded, checked update in (its SCAFFOLD frame and clip bit are checked here). */
  fold(update: AcceptedUpdate): void;
  /** Count a refused update from a client that was in the round. */
  noteRejected(): void;
}

/**
 * The one intake pipeline of a plain update (docs/design.md, "Rounds in the coordinator"): the
 * envelope was parsed and its size bounded first (`parseSubmission`, which names the round);
 * here, in order and once
 * each, membership, the model version, the decode against the round's own codec (before
 * anything is allocated), the norm bound, the held-out report's place, and the fold. A refusal after membership counts as
 * a rejected message of the round.
 */
export function intake(round: IntakeStages, { clientId, update, maxNorm }: Submission): void {
  round.checkMembership(clientId);
  try {
    if (update.modelVersion !== round.baseVersion) {
      throw new PollenError('STALE_MODEL', `round ${round.roundId} trains version ${round.baseVersion}`);
    }
    const { delta, norm } = decodeRoundUpload(update.update, round.upload, round.dimension);
    // A task that clips bounds the norm by C plus the noise allowance instead (privacy.ts).
    const bound = round.privacy?.maxNorm ?? maxNorm;
    if (norm > bound) {
      throw new PollenError('NORM_TOO_LARGE', `update norm ${norm.toFixed(3)} exceeds ${bound}`);
    }
    if (update.heldOut && !round.heldOut) {
      throw new PollenError(
        'INVALID_MESSAGE',
        `"heldOut" is only sent when the round asks for it (round ${round.roundId} does not)`,
      );
    }
    round.fold({
      clientId,
      delta,
      numExamples: update.numExamples,
      backend: update.backend,
      metrics: {
        metrics: update.metrics,
        trainMs: update.trainMs,
        ...(update.heldOut ? { heldOut: update.heldOut } : {}),
      },
      bytes: update.update.byteLength,
      controlDelta: update.controlDelta,
      clipBit: update.clipBit,
      steps: update.steps,
    });
  } catch (err) {
    round.noteRejected();
    throw err;
  }
}

/**
 * The intake of a round that takes no plain updates (a secure round, or a node's relay of one):
 * membership first, as for any round, then the refusal.
 */
export function refusePlainUpdate(
  round: { readonly roundId: number; checkMembership(clientId: string): void; noteRejected(): void },
  { clientId }: Submission,
): never {
  round.checkMembership(clientId);
  round.noteRejected();
  throw new PollenError(
    'INVALID_MESSAGE',
    `round ${round.roundId} is securely aggregated: send the masked input (secagg:masked), not an update`,
  );
}

/** The stage-message handler of a round that is not securely aggregated. */
export function refuseStageMessage(roundId: number): never {
  throw new PollenError('INVALID_MESSAGE', `round ${roundId} is not securely aggregated`);
}
