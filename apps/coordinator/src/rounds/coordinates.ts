import {
  chooseSharedCoordinates,
  encodeSortedIndices,
  type UploadPlan,
  updateMomentum,
} from '@pollen/compression';
import { compressionK, hashSeed, type RoundCompression, type TaskSpec } from '@pollen/fl-core';

/**
 * Each round's upload plan for a task, and for shared-coordinate sparsity the round's set: the
 * top of a momentum of the task's recent aggregates plus random exploration drawn from a seed
 * of the task and round (shared-coords.ts of @pollen/compression). Secure aggregation uses
 * `forRound` too: a masked sum only adds up on coordinates every client sent.
 *
 * The momentum lives in memory, one per task: after a restart it starts from zero, and the
 * first rounds draw their set at random until aggregates refill it. Nothing is lost that a
 * few rounds do not rebuild, and no model state depends on it.
 */
export class CoordinateSets {
  private momentum: Float32Array | null = null;
  private momentumKey = '';
  private readonly sets = new Map<number, Uint32Array>();

  /**
   * The sorted coordinates every client of round `roundId` sends, or null when the task's
   * uploads are not on a shared set. The same task, round and momentum give the same set, so
   * calling it again for a round returns that round's set.
   */
  forRound(spec: TaskSpec, roundId: number, dimension: number): Uint32Array | null {
    const { compression } = spec;
    if (compression.kind !== 'shared') return null;
    const cached = this.sets.get(roundId);
    if (cached) return cached;
    const total = compressionK(compression, dimension);
    const explore = Math.min(total, Math.round(total * compression.exploration));
    const set = chooseSharedCoordinates(this.momentumFor(spec, dimension), {
      k: total - explore,
      explore,
      seed: hashSeed(`coordinates:${spec.id}:${roundId}`),
    });
    // Only the latest rounds are asked for again; older sets are dropped.
    for (const id of this.sets.keys()) if (id < roundId - 4) this.sets.delete(id);
    this.sets.set(roundId, set);
    return set;
  }

  /** Fold a committed round's aggregate delta into the momentum that picks the next sets. */
  observe(spec: TaskSpec, aggregate: Float32Array): void {
    if (spec.compression.kind !== 'shared') return;
    const m = this.momentumFor(spec, aggregate.length);
    this.momentum = updateMomentum(m, aggregate, spec.compression.momentum);
  }

  private momentumFor(spec: TaskSpec, dimension: number): Float32Array {
    // An operator's change of the settings, or another model size, starts the momentum afresh.
    const key = `${JSON.stringify(spec.compression)}:${dimension}`;
    if (!this.momentum || key !== this.momentumKey) {
      this.momentum = new Float32Array(dimension);
      this.momentumKey = key;
    }
    return this.momentum;
  }
}

/** The round start's compression block and the coordinator's plan for decoding uploads. */
export interface RoundUpload {
  /** What the clients are told; null when the task does not compress (dense frames of its codec). */
  readonly message: RoundCompression | null;
  readonly plan: UploadPlan;
}

/** Resolve a task's compression for one round (`coordinates`: the shared set, when it has one). */
export function roundUpload(spec: TaskSpec, dimension: number, coordinates: Uint32Array | null): RoundUpload {
  const { compression } = spec;
  const k = coordinates ? coordinates.length : compressionK(compression, dimension);
  const plan: UploadPlan = {
    kind: compression.kind,
    bits: compression.bits,
    precision: spec.codec,
    k,
    errorFeedback: compression.errorFeedback,
    ...(coordinates ? { coordinates } : {}),
  };
  if (compression.kind === 'none' && compression.bits === 32) return { message: null, plan };
  const message: RoundCompression = {
    kind: compression.kind,
    bits: compression.bits,
    k,
    errorFeedback: compression.errorFeedback,
    ...(coordinates ? { coordinates: encodeSortedIndices(coordinates, dimension) } : {}),
  };
  return { message, plan };
}
