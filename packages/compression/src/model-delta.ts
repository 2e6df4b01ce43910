import { CodecError } from './errors.ts';
import type { FrameMeta } from './frame.ts';
import { bodyToDense, decodeFrame, encodeFrame, type FrameBody } from './frame-codec.ts';
import type { FrameCodec } from './frame-header.ts';
import { dequantize, quantize } from './quantize.ts';
import { gather } from './sparse.ts';
import { kForDensity, topKIndices } from './topk.ts';
import { expectFloat32, fail } from './validate.ts';

/**
 * Compressed model downloads: the coordinator sends a device that holds the broadcast model
 * of an earlier version the difference to the new one instead of the whole model. The
 * coordinator keeps the broadcast model ŵ next to the true model w and encodes
 * D_v = encode(w_v - ŵ_{v-1}), ŵ_v = ŵ_{v-1} + decode(D_v), so what one version's encoding
 * leaves out is part of the next difference: error feedback on the server (DoubleSqueeze,
 * Tang et al. 2019; EF21, Richtárik et al. 2021). Devices and coordinator both compute ŵ_v
 * with `applyModelDelta`, so they agree bit for bit.
 *
 * A delta frame is an ordinary frame (frame-header.ts) of one of the codecs below; its header
 * round field carries the version it leads to. The body's meaning follows the codec:
 *
 *   f32, sparse-f32      the target's own values at the sent coordinates (replace): exact, so
 *                        bits 32 is lossless in float32 (a float32 difference is not: r + (t - r)
 *                        rounds twice)
 *   f16, sparse-f16      the difference t - r at the sent coordinates, in float16 (add)
 *   q8, q4, sparse-q8/q4 the difference quantized on a symmetric grid (quantize.ts), rounded
 *                        to the nearest level (add)
 *
 * Coordinates are chosen by the magnitude of the difference (top-k, topk.ts); with fraction 1
 * every coordinate is sent and the frame is dense. Rounding to the nearest level rather than
 * stochastically keeps the encoding a function of its inputs: its error is not lost but
 * carried into the next difference.
 */

/** Bits per sent value of a delta: 32 (float32, lossless), 16 (float16), 8 or 4 (quantized). */
export type DeltaBits = 32 | 16 | 8 | 4;

/** How a model difference is compressed. */
export interface ModelDeltaSettings {
  readonly bits: DeltaBits;
  /** Share of the coordinates sent, in (0, 1], largest differences first; 1 sends all. */
  readonly fraction: number;
}

/** A delta frame and the model a device rebuilds from it, bit for bit. */
export interface EncodedModelDelta {
  readonly frame: Uint8Array;
  readonly reconstructed: Float32Array;
}

/** Every codec a delta frame may have. */
export const DELTA_CODECS: readonly FrameCodec[] = [
  'f32',
  'f16',
  'q8',
  'q4',
  'sparse-f32',
  'sparse-f16',
  'sparse-q8',
  'sparse-q4',
];

// Rounds to the nearest grid level (ties down) through quantize's own rounding step: the
// level goes up when the draw is below the fractional part.
const NEAREST = (): number => 0.5;

/**
 * Encode the difference from `reference` (what the device holds) to `target`, and the model
 * `applyModelDelta(reference, frame)` gives (computed by that very function). `meta.round`
 * should be the version the frame leads to. Deterministic. Refuses vectors of different
 * lengths or with non-finite values (CodecError 'INVALID_ARGUMENT').
 */
export function encodeModelDelta(
  target: Float32Array,
  reference: Float32Array,
  settings: ModelDeltaSettings,
  meta: FrameMeta = {},
): EncodedModelDelta {
  expectFloat32('target', target);
  expectFloat32('reference', reference, target.length);
  const { bits } = expectSettings(settings);
  const d = target.length;
  const difference = new Float32Array(d);
  for (let i = 0; i < d; i++) {
    const v = target[i]! - reference[i]!;
    if (!Number.isFinite(v) || !Number.isFinite(reference[i]!)) {
      fail(`target[${i}] - reference[${i}]`, 'finite number', v);
    }
    difference[i] = v;
  }
  const k = kForDensity(d, settings.fraction);
  const indices = k === d ? undefined : topKIndices(difference, k);
  const sent = indices ? gather(difference, indices) : difference;
  const body = deltaBody(bits, sent, indices ? gather(target, indices) : target, d, indices);
  const frame = encodeFrame(body, meta);
  return { frame, reconstructed: applyModelDelta(reference, frame) };
}

function deltaBody(
  bits: DeltaBits,
  difference: Float32Array,
  targetValues: Float32Array,
  dimension: number,
  indices: Uint32Array | undefined,
): FrameBody {
  if (bits === 32 || bits === 16) {
    const values = bits === 32 ? targetValues : difference;
    const precision = bits === 32 ? 'f32' : 'f16';
    return indices
      ? { kind: 'sparse', precision, vector: { dimension, indices, values } }
      : { kind: 'dense', precision, values };
  }
  const quantized = quantize(difference, bits, NEAREST);
  return indices
    ? { kind: 'sparse-quantized', dimension, indices, quantized }
    : { kind: 'quantized', quantized };
}

/** What `applyModelDelta` checks a frame against, beyond the reference's dimension. */
export interface ModelDeltaLimits {
  /** The version the frame must lead to (its header round field); unchecked when absent. */
  readonly version?: number;
  /** Largest frame accepted, in bytes. */
  readonly maxBytes?: number;
}

/**
 * The model a delta frame leads to from `reference`, in float32: replaced values for the f32
 * codecs, `fround(reference + difference)` for the others. Validates the frame as one from
 * the network: a codec that is not a delta codec, a wrong dimension or version, a truncated
 * or inconsistent body, NaN, or a result that overflows are refused with a CodecError
 * ('BAD_FRAME', 'SHAPE_MISMATCH', 'NON_FINITE', 'PAYLOAD_TOO_LARGE').
 */
export function applyModelDelta(
  reference: Float32Array,
  frame: Uint8Array,
  limits: ModelDeltaLimits = {},
): Float32Array {
  expectFloat32('reference', reference);
  const decoded = decodeFrame(frame, {
    dimension: reference.length,
    codecs: DELTA_CODECS,
    ...(limits.maxBytes === undefined ? {} : { maxBytes: limits.maxBytes }),
  });
  if (limits.version !== undefined && decoded.round !== limits.version) {
    throw new CodecError(
      'BAD_FRAME',
      `delta frame leads to version ${decoded.round}, expected ${limits.version}`,
    );
  }
  const { body } = decoded;
  const out = Float32Array.from(reference);
  if (body.kind === 'dense' && body.precision === 'f32') {
    out.set(body.values);
    return out;
  }
  if (body.kind === 'sparse' && body.precision === 'f32') {
    const { indices, values } = body.vector;
    for (let j = 0; j < indices.length; j++) out[indices[j]!] = values[j]!;
    return out;
  }
  const indices =
    body.kind === 'sparse' || body.kind === 'sparse-quantized' ? sparseIndices(body) : undefined;
  const values = deltaValues(body);
  for (let j = 0; j < values.length; j++) {
    const i = indices ? indices[j]! : j;
    const v = Math.fround(out[i]! + values[j]!);
    if (!Number.isFinite(v))
      throw new CodecError('NON_FINITE', `delta overflows the model at coordinate ${i}`);
    out[i] = v;
  }
  return out;
}

/** Apply a chain of delta frames in order; frame j must lead to version `from + 1 + j`. */
export function applyModelDeltas(
  reference: Float32Array,
  frames: readonly Uint8Array[],
  from: number,
  limits: Omit<ModelDeltaLimits, 'version'> = {},
): Float32Array {
  let model = reference;
  frames.forEach((frame, j) => {
    model = applyModelDelta(model, frame, { ...limits, version: from + 1 + j });
  });
  return model;
}

function sparseIndices(body: FrameBody): Uint32Array {
  if (body.kind === 'sparse') return body.vector.indices;
  if (body.kind === 'sparse-quantized') return body.indices;
  return fail('body.kind', 'sparse', body.kind);
}

// The difference's values as sent (f16 bodies are already float16 values read back as numbers).
function deltaValues(body: FrameBody): Float32Array {
  switch (body.kind) {
    case 'sparse':
      return body.vector.values;
    case 'sparse-quantized':
      return dequantize(body.quantized);
    default:
      return bodyToDense(body);
  }
}

function expectSettings(settings: ModelDeltaSettings): ModelDeltaSettings {
  if (typeof settings !== 'object' || settings === null) fail('settings', 'object', settings);
  const { bits, fraction } = settings;
  if (bits !== 32 && bits !== 16 && bits !== 8 && bits !== 4) fail('bits', '32, 16, 8 or 4', bits);
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction <= 1)) {
    fail('fraction', 'number in (0, 1]', fraction);
  }
  return settings;
}
