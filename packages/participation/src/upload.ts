import { encodeDense, encodeUpload, type UploadPlan } from '@pollen/compression';
import { clipToNorm, type Rng, type RoundStartMessage, uploadPlanFor } from '@pollen/fl-core';
import { cryptoRng, type PrivateUpdate, privatize } from './privacy.ts';

/**
 * What a device does to its delta before it leaves, as the round asks: privacy (clip, noise,
 * the clipping bit) and compression (error feedback, top-k / random-k / the shared set,
 * quantization), then the frame. The one module for this, used by the browser SDK and by the
 * Node simulated clients alike; where the residual is kept (IndexedDB, memory) is theirs.
 */

/** An upload ready to send. */
export interface RoundUpload {
  readonly frame: Uint8Array;
  /**
   * Keep this for the next round once the coordinator accepted the upload; null: keep none.
   * Under DGC's momentum correction it is the device's whole state in one vector (see
   * `packState`): stores keep it as they keep a residual, without knowing its layout.
   */
  readonly residual: Float32Array | null;
  /** What privacy did, when the round clips. */
  readonly privacy: PrivateUpdate | null;
  /** The plan it followed (for the bytes and the count, say). */
  readonly plan: UploadPlan;
}

/**
 * Encode `delta` for round `msg`. `residual` is what the last accepted upload of this task
 * kept (null: none, or of another dimension). Without compression this is exactly the dense
 * path: privatize the whole delta, then a dense frame of the round's codec.
 */
export function encodeRoundUpload(
  delta: Float32Array,
  msg: Pick<RoundStartMessage, 'roundId' | 'codec' | 'compression' | 'privacy'>,
  residual: Float32Array | null,
  rng: Rng = cryptoRng(),
): RoundUpload {
  const plan = uploadPlanFor(msg, delta.length);
  const meta = { round: msg.roundId };
  const round = msg.privacy;
  if (msg.compression === undefined) {
    const sent = round ? privatize(delta, round, rng) : null;
    return {
      frame: encodeDense(sent?.update ?? delta, plan.precision, meta),
      residual: null,
      privacy: sent,
      plan,
    };
  }
  let sent: PrivateUpdate | null = null;
  const state = unpackState(residual, delta.length);
  const encoded = encodeUpload(delta, plan, {
    residual: state.residual,
    momentum: state.momentum,
    gap: state.round === null ? 1 : Math.max(1, msg.roundId - state.round),
    rng,
    meta,
    // Clip and noise the values that leave, after selection: their norm is bounded by C
    // whatever the residual carried, and what clipping cut stays in the residual.
    ...(round
      ? {
          privatize: (values: Float32Array) => {
            sent = privatize(values, round, rng);
            return { sent: sent.update, clipped: clipToNorm(values, round.clipNorm).clipped };
          },
        }
      : {}),
  });
  const kept =
    encoded.momentum && encoded.residual
      ? packState(encoded.residual, encoded.momentum, msg.roundId)
      : encoded.residual;
  return { frame: encoded.frame, residual: kept, privacy: sent, plan };
}

/** A device's error-feedback state between rounds. */
export interface UploadState {
  readonly residual: Float32Array | null;
  /** DGC's momentum (masked where values were sent); null without momentum correction. */
  readonly momentum: Float32Array | null;
  /** The round the state was kept at; null when unknown. */
  readonly round: number | null;
}

/**
 * One vector for the store: the residual alone (length d, as before momentum correction
 * existed), or [residual, momentum, round] (length 2d + 1) under momentum correction. The
 * round is a float32: exact below 2^24 rounds.
 */
export function packState(residual: Float32Array, momentum: Float32Array, round: number): Float32Array {
  const d = residual.length;
  const out = new Float32Array(2 * d + 1);
  out.set(residual, 0);
  out.set(momentum, d);
  out[2 * d] = round;
  return out;
}

/**
 * The length of the vector a device keeps for round `msg` of a model of dimension d: 2d + 1
 * under momentum correction, else d (what a store asks for when it loads the state).
 */
export function stateLength(msg: Pick<RoundStartMessage, 'compression'>, d: number): number {
  return msg.compression?.momentumCorrection ? 2 * d + 1 : d;
}

/** The state a stored vector holds for a model of dimension d; another length holds nothing. */
export function unpackState(stored: Float32Array | null, d: number): UploadState {
  if (stored && stored.length === d) return { residual: stored, momentum: null, round: null };
  if (stored && stored.length === 2 * d + 1) {
    return {
      residual: stored.subarray(0, d),
      momentum: stored.subarray(d, 2 * d),
      round: stored[2 * d]!,
    };
  }
  return { residual: null, momentum: null, round: null };
}
