import { accumulate, maskMomentum } from './dgc.ts';
import { absorbEncodingError, compensate } from './error-feedback.ts';
import { CodecError } from './errors.ts';
import type { FrameMeta } from './frame.ts';
import { bodyToDense, bodyToSparse, decodeFrame, encodeFrame, type ValuePrecision } from './frame-codec.ts';
import type { FrameCodec } from './frame-header.ts';
import type { Rng } from './prng.ts';
import { dequantize, type QuantBits, quantize } from './quantize.ts';
import { gather, type SparseVector } from './sparse.ts';
import { randomKIndices, topKIndices } from './topk.ts';
import { expectFloat32, expectInt, expectSortedIndices, fail } from './validate.ts';
import { sortedIndicesLength } from './varint.ts';

/**
 * The one upload encoder of Pollen, shared by the browser SDK and the Node simulated clients,
 * and the coordinator's matching decoder. A device's update goes through, in this order:
 *
 *   1. error feedback: corrected = update + residual (Stich et al. 2018; Lin et al. 2018),
 *      or, when the plan asks for DGC's terms (dgc.ts), the update clipped, added to the
 *      device's momentum, and the momentum added to the residual;
 *   2. selection: every coordinate, its top-k, k at random, or the round's shared set;
 *   3. privacy, on the selected values only (clip to C, add noise): so the released values
 *      have sensitivity C whatever the residual holds, and the noise is never fed back;
 *   4. quantization of the values (QSGD-style, unbiased) or float32/float16;
 *   5. the frame (frame-codec.ts).
 *
 * Whatever steps 2-4 leave out of the corrected update (unselected coordinates, what clipping
 * cut, the quantization error) is the new residual, so sent + residual' = update + residual
 * up to float32 rounding of the clipping and quantization differences.
 */

/** How a round asks its clients to compress their uploads. */
export interface UploadPlan {
  /** 'none' sends every coordinate; the others send `k` values at selected coordinates. */
  readonly kind: 'none' | 'topk' | 'randomk' | 'shared';
  /** Bits per value: 32 (floats, `precision`), or 8, 4, 2 (stochastic quantization). */
  readonly bits: 32 | QuantBits;
  /** Float width when `bits` is 32: the task's codec. */
  readonly precision: ValuePrecision;
  /** Values sent: the dimension for 'none', the shared set's size for 'shared'. */
  readonly k: number;
  /** Keep what was not sent and add it to the next update. */
  readonly errorFeedback: boolean;
  /** 'shared': the round's coordinate set, strictly increasing. */
  readonly coordinates?: Uint32Array;
  /**
   * DGC's momentum correction with factor masking (dgc.ts), m in [0, 1); absent or 0: plain
   * error feedback. Needs `errorFeedback`.
   */
  readonly momentumCorrection?: number;
  /** DGC's local clipping: the update's L2 bound before it is accumulated; absent: none. */
  readonly updateClipNorm?: number;
}

/** Clip and noise the selected values: `sent` goes on, `clipped` (before noise) says what clipping kept. */
export type PrivatizeValues = (values: Float32Array) => {
  readonly sent: Float32Array;
  readonly clipped: Float32Array;
};

/** One encoded upload and what the device keeps for the next round. */
export interface EncodedUpload {
  readonly frame: Uint8Array;
  /** The new residual (null without error feedback). */
  readonly residual: Float32Array | null;
  /** The new momentum, masked where values were sent (null without momentum correction). */
  readonly momentum: Float32Array | null;
  /** How many values the frame carries. */
  readonly count: number;
}

/** The frame codec an upload of this plan must use. */
export function uploadCodec(plan: Pick<UploadPlan, 'kind' | 'bits' | 'precision'>): FrameCodec {
  const sparse = plan.kind !== 'none';
  if (plan.bits === 32) {
    if (plan.precision !== 'f32' && plan.precision !== 'f16') fail('precision', 'f32 or f16', plan.precision);
    return sparse ? `sparse-${plan.precision}` : plan.precision;
  }
  if (plan.bits !== 8 && plan.bits !== 4 && plan.bits !== 2) fail('bits', '32, 8, 4 or 2', plan.bits);
  return sparse ? `sparse-q${plan.bits}` : `q${plan.bits}`;
}

/** The coordinates a plan sends for this corrected update, strictly increasing. */
function select(corrected: Float32Array, plan: UploadPlan, rng: Rng): Uint32Array | null {
  const d = corrected.length;
  switch (plan.kind) {
    case 'none':
      return null;
    case 'topk':
      return topKIndices(corrected, expectInt('k', plan.k, 0, d));
    case 'randomk':
      return randomKIndices(d, expectInt('k', plan.k, 0, d), rng);
    case 'shared':
      if (plan.coordinates === undefined) return fail('coordinates', 'the round coordinate set', undefined);
      return expectSortedIndices('coordinates', plan.coordinates, d);
    default:
      return fail('kind', 'none, topk, randomk or shared', (plan as UploadPlan).kind);
  }
}

/**
 * Encode one update as the round's plan says. `residual` is what the last round kept (absent:
 * zeros, as after a lost store or a changed model); `rng` drives random-k and the stochastic
 * rounding (no secret: the values are sent anyway); `privatize`, when the round clips, is
 * applied to the selected values.
 */
export function encodeUpload(
  update: Float32Array,
  plan: UploadPlan,
  options: {
    readonly residual?: Float32Array | null;
    /** The momentum the last upload kept (momentum correction only; absent: zeros). */
    readonly momentum?: Float32Array | null;
    /** Rounds since the last upload that kept `momentum`, at least 1 (default 1). */
    readonly gap?: number;
    readonly rng: Rng;
    readonly privatize?: PrivatizeValues;
    readonly meta?: FrameMeta;
  },
): EncodedUpload {
  expectFloat32('update', update);
  const d = update.length;
  const feedback = plan.errorFeedback;
  const factor = plan.momentumCorrection ?? 0;
  if (!feedback && (factor !== 0 || plan.updateClipNorm !== undefined)) {
    fail('errorFeedback', 'true with momentumCorrection or updateClipNorm', feedback);
  }
  const dgc =
    feedback && (factor !== 0 || plan.updateClipNorm !== undefined)
      ? accumulate(update, {
          residual: options.residual ?? null,
          momentum: options.momentum ?? null,
          factor,
          gap: options.gap ?? 1,
          ...(plan.updateClipNorm !== undefined ? { clipNorm: plan.updateClipNorm } : {}),
        })
      : null;
  const corrected = dgc
    ? dgc.accumulated
    : feedback
      ? compensate(update, options.residual ?? undefined)
      : update;
  const indices = select(corrected, plan, options.rng);
  const momentum = dgc?.momentum ?? null;
  if (momentum) maskMomentum(momentum, indices);
  const selected = indices ? gather(corrected, indices) : corrected;
  // The residual starts as the corrected update with the selected coordinates zeroed; what
  // clipping and quantization drop from them is added back below.
  const residual = feedback ? new Float32Array(corrected) : null;
  if (residual && indices) for (let j = 0; j < indices.length; j++) residual[indices[j]!] = 0;
  else if (residual) residual.fill(0);
  let values = selected;
  if (options.privatize) {
    const { sent, clipped } = options.privatize(selected);
    expectFloat32('privatized values', sent, selected.length);
    expectFloat32('clipped values', clipped, selected.length);
    if (residual) addAt(residual, indices, selected, clipped);
    values = sent;
  }
  const codec = uploadCodec(plan);
  const meta = options.meta ?? {};
  let frame: Uint8Array;
  if (plan.bits === 32) {
    frame = indices
      ? encodeFrame(
          { kind: 'sparse', precision: plan.precision, vector: { dimension: d, indices, values } },
          meta,
        )
      : encodeFrame({ kind: 'dense', precision: plan.precision, values }, meta);
    // float16 rounding is an encoding error like quantization's: fed back the same way.
    if (residual && plan.precision === 'f16') {
      const body = decodeFrame(frame, { dimension: d, codecs: [codec] }).body;
      const back = indices ? bodyToSparse(body).values : bodyToDense(body);
      addAt(residual, indices, values, back);
    }
  } else {
    const quantized = quantize(values, plan.bits, options.rng);
    frame = indices
      ? encodeFrame({ kind: 'sparse-quantized', dimension: d, indices, quantized }, meta)
      : encodeFrame({ kind: 'quantized', quantized }, meta);
    if (residual) addAt(residual, indices, values, dequantize(quantized));
  }
  return { frame, residual, momentum, count: values.length };
}

/** residual[indices[j]] += a[j] - b[j] (indices null: every coordinate). */
function addAt(residual: Float32Array, indices: Uint32Array | null, a: Float32Array, b: Float32Array): void {
  if (indices === null) {
    for (let i = 0; i < residual.length; i++) residual[i] = residual[i]! + (a[i]! - b[i]!);
    return;
  }
  const sent: SparseVector = { dimension: residual.length, indices, values: a };
  residual.set(absorbEncodingError(residual, sent, b));
}

/** A decoded upload: dense, or sparse for the O(k) accumulator. */
export type DecodedUpload =
  | { readonly kind: 'dense'; readonly values: Float32Array }
  | { readonly kind: 'sparse'; readonly vector: SparseVector };

/**
 * The largest frame a plan's upload can take: the header, k values, and k index gaps of at
 * most 5 varint bytes (the exact size of a shared set's list, which the server knows).
 */
export function maxUploadBytes(plan: UploadPlan, dimension: number): number {
  const codec = uploadCodec(plan);
  const k = plan.kind === 'none' ? dimension : plan.k;
  const valueBytes =
    plan.bits === 32 ? k * (plan.precision === 'f32' ? 4 : 2) : Math.ceil((k * plan.bits) / 8);
  const indexBytes =
    codec.startsWith('sparse-') && plan.coordinates ? sortedIndicesLength(plan.coordinates) : 0;
  const gaps = codec.startsWith('sparse-') && !plan.coordinates ? 5 * k : indexBytes;
  return 32 + valueBytes + gaps;
}

/**
 * The coordinator's side: decode an upload of this plan, refusing with a CodecError before
 * allocating anything past the plan's bounds (BAD_FRAME for another codec or a shared upload
 * whose coordinates are not the round's, PAYLOAD_TOO_LARGE past k values or the plan's size,
 * SHAPE_MISMATCH for another dimension). Values come back finite; indices sorted, unique and
 * in range (decodeFrame checks them).
 */
export function decodeUpload(bytes: Uint8Array, plan: UploadPlan, dimension: number): DecodedUpload {
  const codec = uploadCodec(plan);
  const k = plan.kind === 'none' ? dimension : plan.k;
  const frame = decodeFrame(bytes, {
    dimension,
    maxCount: k,
    maxBytes: maxUploadBytes(plan, dimension),
    codecs: [codec],
  });
  if (plan.kind === 'none') return { kind: 'dense', values: bodyToDense(frame.body) };
  const vector = bodyToSparse(frame.body);
  if (plan.kind === 'shared') {
    const expected = plan.coordinates!;
    let same = vector.indices.length === expected.length;
    for (let j = 0; same && j < expected.length; j++) same = vector.indices[j] === expected[j];
    if (!same) throw new CodecError('BAD_FRAME', "upload coordinates differ from the round's shared set");
  }
  return { kind: 'sparse', vector };
}
