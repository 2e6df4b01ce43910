import { packedLength } from './bitpack.ts';
import { CodecError } from './errors.ts';
import { resolveFixedPoint } from './fixed-point.ts';
import { fromHalfBits, toHalfBitsSaturating } from './float16.ts';
import type { FrameMeta } from './frame.ts';
import { FRAME_HEADER_BYTES } from './frame.ts';
import {
  allocateFrame,
  type FrameCodec,
  type FrameHeader,
  type FrameLimits,
  readFrameHeader,
} from './frame-header.ts';
import { dequantize, type QuantBits, type QuantizedVector, validateQuantized } from './quantize.ts';
import { type SparseVector, sparseToDense, validateSparse } from './sparse.ts';
import { expectFloat32, expectSortedIndices, fail } from './validate.ts';
import { decodeSortedIndices, sortedIndicesLength, writeSortedIndices } from './varint.ts';

/**
 * Encoding and decoding of every frame codec (ids and body layouts in frame-header.ts).
 * `decodeFrame` is the one decoder the coordinator needs for uploads: it refuses, with a
 * CodecError and before allocating, anything truncated, oversized or inconsistent, and
 * returns values that are all finite and indices that are sorted and in range.
 */

/** float32 or float16 values on the wire (float16 saturates at +-65504). */
export type ValuePrecision = 'f32' | 'f16';

/** What a frame carries, by kind. */
export type FrameBody =
  | { readonly kind: 'dense'; readonly precision: ValuePrecision; readonly values: Float32Array }
  | { readonly kind: 'sparse'; readonly precision: ValuePrecision; readonly vector: SparseVector }
  | { readonly kind: 'quantized'; readonly quantized: QuantizedVector }
  | {
      readonly kind: 'sparse-quantized';
      readonly dimension: number;
      readonly indices: Uint32Array;
      readonly quantized: QuantizedVector;
    }
  | {
      /** Fixed-point integers mod 2^32 (fixed-point.ts), one per coordinate, possibly masked. */
      readonly kind: 'fixed-point';
      readonly values: Uint32Array;
      /** R, a float32 value. */
      readonly range: number;
      /** The fixed-point scale, a float32 value (see resolveFixedPoint). */
      readonly scale: number;
    };

/** A decoded frame: its codec, header metadata and body. */
export interface Frame {
  readonly codec: FrameCodec;
  readonly round: number;
  readonly taskTag: number;
  readonly body: FrameBody;
}

const VALUE_BYTES: Record<ValuePrecision, number> = { f32: 4, f16: 2 };

/**
 * Encode any body as a frame. Sparse indices must be strictly increasing and below the
 * dimension; quantized bodies come from `quantize` (their scale is a float32); a fixed-point
 * body's range and scale must be float32 values, as `resolveFixedPoint` returns them.
 * Refuses anything else with CodecError 'INVALID_ARGUMENT' (or 'SHAPE_MISMATCH').
 */
export function encodeFrame(body: FrameBody, meta: FrameMeta = {}): Uint8Array {
  switch (body.kind) {
    case 'dense': {
      const values = expectFloat32('values', body.values);
      const width = valueWidth(body.precision);
      const n = values.length;
      const frame = allocateFrame(
        body.precision,
        { dimension: n, count: n, scale: 1, bodyBytes: n * width },
        meta,
      );
      writeValues(frame.view, FRAME_HEADER_BYTES, values, body.precision);
      return frame.bytes;
    }
    case 'sparse': {
      const { dimension, indices, values } = validateSparse(body.vector);
      const width = valueWidth(body.precision);
      const valueBytes = values.length * width;
      const bodyBytes = valueBytes + sortedIndicesLength(indices);
      const codec: FrameCodec = body.precision === 'f32' ? 'sparse-f32' : 'sparse-f16';
      const frame = allocateFrame(codec, { dimension, count: indices.length, scale: 1, bodyBytes }, meta);
      writeValues(frame.view, FRAME_HEADER_BYTES, values, body.precision);
      writeSortedIndices(frame.bytes, FRAME_HEADER_BYTES + valueBytes, indices);
      return frame.bytes;
    }
    case 'quantized': {
      const q = expectQuantized(body.quantized);
      const fields = { dimension: q.length, count: q.length, scale: q.scale, bodyBytes: q.packed.length };
      const frame = allocateFrame(`q${q.bits}`, fields, meta);
      frame.bytes.set(q.packed, FRAME_HEADER_BYTES);
      return frame.bytes;
    }
    case 'sparse-quantized': {
      const q = expectQuantized(body.quantized);
      const indices = expectSortedIndices('indices', body.indices, body.dimension);
      if (q.length !== indices.length)
        fail('quantized.length', `${indices.length}`, q.length, 'SHAPE_MISMATCH');
      const bodyBytes = q.packed.length + sortedIndicesLength(indices);
      const fields = { dimension: body.dimension, count: indices.length, scale: q.scale, bodyBytes };
      const frame = allocateFrame(`sparse-q${q.bits}`, fields, meta);
      frame.bytes.set(q.packed, FRAME_HEADER_BYTES);
      writeSortedIndices(frame.bytes, FRAME_HEADER_BYTES + q.packed.length, indices);
      return frame.bytes;
    }
    case 'fixed-point': {
      if (!(body.values instanceof Uint32Array)) fail('values', 'Uint32Array', body.values);
      const resolved = resolveFixedPoint({ range: body.range, scale: body.scale });
      if (resolved.range !== body.range) fail('range', 'a float32 value', body.range);
      const n = body.values.length;
      const fields = { dimension: n, count: n, scale: body.scale, bodyBytes: 4 + 4 * n };
      const { bytes, view } = allocateFrame('fixed32', fields, meta);
      view.setFloat32(FRAME_HEADER_BYTES, body.range, true);
      for (let i = 0; i < n; i++) view.setUint32(FRAME_HEADER_BYTES + 4 + 4 * i, body.values[i]!, true);
      return bytes;
    }
    default:
      return fail(
        'body.kind',
        'dense, sparse, quantized, sparse-quantized or fixed-point',
        (body as FrameBody).kind,
      );
  }
}

/**
 * Decode a frame of any codec. `limits` must give `dimension` or `maxDimension`; every size
 * is checked against them and against the bytes present before anything is allocated, so
 * decoding a hostile frame allocates at most a few times its own length (dequantizing it
 * later, up to 16 times at 2 bits, within the dimension limit). Throws only CodecError:
 * 'PAYLOAD_TOO_LARGE' past a limit, 'SHAPE_MISMATCH' for another dimension, 'BAD_FRAME' for
 * anything truncated, inconsistent or non-canonical, 'NON_FINITE' for NaN or infinite values.
 */
export function decodeFrame(bytes: Uint8Array, limits: FrameLimits): Frame {
  const header = readFrameHeader(bytes, limits);
  const { codec, dimension, count, bodyBytes } = header;
  const at = bytes.byteOffset + FRAME_HEADER_BYTES;
  const view = new DataView(bytes.buffer, at, bodyBytes);
  const body = decodeBody(header, view, bytes.subarray(FRAME_HEADER_BYTES), dimension, count);
  return { codec, round: header.round, taskTag: header.taskTag, body };
}

function decodeBody(
  header: FrameHeader,
  view: DataView,
  raw: Uint8Array,
  dimension: number,
  count: number,
): FrameBody {
  const { codec, bodyBytes, scale } = header;
  if (codec === 'f32' || codec === 'f16') {
    expectConsistent(count === dimension && bodyBytes === count * VALUE_BYTES[codec], header);
    return { kind: 'dense', precision: codec, values: readValues(view, 0, count, codec) };
  }
  if (codec === 'sparse-f32' || codec === 'sparse-f16') {
    const precision: ValuePrecision = codec === 'sparse-f32' ? 'f32' : 'f16';
    const valueBytes = count * VALUE_BYTES[precision];
    expectConsistent(count <= dimension && bodyBytes >= valueBytes, header);
    const indices = decodeSortedIndices(raw.subarray(valueBytes), count, dimension);
    const values = readValues(view, 0, count, precision);
    return { kind: 'sparse', precision, vector: { dimension, indices, values } };
  }
  if (codec === 'fixed32') {
    expectConsistent(count === dimension && bodyBytes === 4 + 4 * count, header);
    const range = view.getFloat32(0, true);
    try {
      resolveFixedPoint({ range, scale });
    } catch {
      throw new CodecError('BAD_FRAME', `fixed-point range ${range} and scale ${scale} are not usable`);
    }
    const values = new Uint32Array(count);
    for (let i = 0; i < count; i++) values[i] = view.getUint32(4 + 4 * i, true);
    return { kind: 'fixed-point', values, range, scale };
  }
  // The quantized codecs, dense and sparse.
  const sparse = codec.startsWith('sparse-');
  const bits = Number(codec.slice(sparse ? 8 : 1)) as QuantBits;
  const codeBytes = packedLength(count, bits);
  if (sparse) expectConsistent(count <= dimension && bodyBytes >= codeBytes, header);
  else expectConsistent(count === dimension && bodyBytes === codeBytes, header);
  const indices = sparse ? decodeSortedIndices(raw.subarray(codeBytes), count, dimension) : undefined;
  const quantized = validateQuantized({ bits, length: count, scale, packed: raw.slice(0, codeBytes) });
  return indices
    ? { kind: 'sparse-quantized', dimension, indices, quantized }
    : { kind: 'quantized', quantized };
}

/**
 * The dense vector a body stands for: values as sent, sparse bodies scattered into zeros,
 * quantized ones dequantized. A fixed-point body has no meaning alone (it is decoded as a
 * sum, with `decodeFixedPointSum`) and is refused.
 */
export function bodyToDense(body: FrameBody): Float32Array {
  switch (body.kind) {
    case 'dense':
      return body.values;
    case 'quantized':
      return dequantize(body.quantized);
    case 'fixed-point':
      return fail('body.kind', 'not fixed-point (decode the sum with decodeFixedPointSum)', body.kind);
    default:
      return sparseToDense(bodyToSparse(body));
  }
}

/**
 * A sparse body as a SparseVector (dequantized if quantized), ready for `accumulateSparse`.
 * Dense and fixed-point bodies are refused.
 */
export function bodyToSparse(body: FrameBody): SparseVector {
  if (body.kind === 'sparse') return body.vector;
  if (body.kind === 'sparse-quantized') {
    return { dimension: body.dimension, indices: body.indices, values: dequantize(body.quantized) };
  }
  return fail('body.kind', 'sparse or sparse-quantized', body.kind);
}

function valueWidth(precision: ValuePrecision): number {
  if (precision !== 'f32' && precision !== 'f16') fail('precision', 'f32 or f16', precision);
  return VALUE_BYTES[precision];
}

function expectQuantized(q: QuantizedVector): QuantizedVector {
  try {
    return validateQuantized(q);
  } catch (err) {
    // On the way out a bad vector is the caller's argument, not a bad frame.
    if (err instanceof CodecError) throw new CodecError('INVALID_ARGUMENT', err.message);
    throw err;
  }
}

function expectConsistent(ok: boolean, header: FrameHeader): void {
  if (!ok) {
    throw new CodecError(
      'BAD_FRAME',
      `${header.codec} frame of dimension ${header.dimension} cannot hold ${header.count} values in ${header.bodyBytes} bytes`,
    );
  }
}

function writeValues(view: DataView, offset: number, values: Float32Array, precision: ValuePrecision): void {
  // Refused here as the decoder would refuse it there: a non-finite update is a bug upstream.
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) fail(`values[${i}]`, 'finite number', values[i]);
  }
  if (precision === 'f32') {
    for (let i = 0; i < values.length; i++) view.setFloat32(offset + 4 * i, values[i]!, true);
  } else {
    for (let i = 0; i < values.length; i++)
      view.setUint16(offset + 2 * i, toHalfBitsSaturating(values[i]!), true);
  }
}

function readValues(view: DataView, offset: number, count: number, precision: ValuePrecision): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const v =
      precision === 'f32'
        ? view.getFloat32(offset + 4 * i, true)
        : fromHalfBits(view.getUint16(offset + 2 * i, true));
    if (!Number.isFinite(v)) throw new CodecError('NON_FINITE', `frame value ${i} is not finite`);
    out[i] = v;
  }
  return out;
}
