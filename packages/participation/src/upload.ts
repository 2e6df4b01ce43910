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
  /** Keep this for the next round once the coordinator accepted the upload; null: keep none. */
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
  const encoded = encodeUpload(delta, plan, {
    residual: residual && residual.length === delta.length ? residual : null,
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
  return { frame: encoded.frame, residual: encoded.residual, privacy: sent, plan };
}
