import { CodecError } from './errors.ts';
import { fromHalfBits, toHalfBitsSaturating } from './float16.ts';

/**
 * Pollen's versioned binary frame for model vectors. Little endian, 32-byte header:
 *
 *   0  magic   'PLNF'
 *   4  u8      format version (1)
 *   5  u8      codec (1 dense float32, 2 dense float16; 3-11 in frame-codec.ts)
 *   6  u16     flags (0; reserved)
 *   8  u32     dimension of the vector
 *  12  u32     number of values in the body
 *  16  u32     round id (0 when not tied to a round)
 *  20  u32     task tag (FNV-1a of the task id, 0 when none)
 *  24  f32     scale (1 for float codecs)
 *  28  u32     body length in bytes
 *  32  body
 *
 * `encodeDense`/`decodeDense` handle the dense float codecs only; `encodeFrame`/`decodeFrame`
 * (frame-codec.ts) handle every codec, dense ones included, in the same header.
 *
 * Decoders check every header field against the frame's length and the caller's limits
 * before allocating anything.
 */
/** Bytes before the body of every frame. */
export const FRAME_HEADER_BYTES = 32;
/** The format version this package writes and reads. */
export const FRAME_VERSION = 1;
/** 'PLNF' read as a little-endian u32. */
export const FRAME_MAGIC = 0x464e4c50;
const MAGIC = FRAME_MAGIC;

/** Codec ids of the dense float codecs (all codec ids: FRAME_CODECS in frame-codec.ts). */
export const CODECS = { f32: 1, f16: 2 } as const;
/** A dense float codec. */
export type DenseCodec = keyof typeof CODECS;

const BYTES_PER_VALUE: Record<number, number> = { 1: 4, 2: 2 };

/** What a frame says about where it belongs: its round and task (both u32, default 0). */
export interface FrameMeta {
  readonly round?: number;
  readonly taskTag?: number;
}

/** What a decoder accepts: give the expected dimension, or at least an upper bound. */
export interface DecodeLimits {
  /** The dimension the caller expects; a frame of any other dimension is refused. */
  readonly dimension?: number;
  /** Largest dimension accepted when `dimension` is not given. */
  readonly maxDimension?: number;
}

/** A decoded dense frame. */
export interface DecodedFrame {
  readonly codec: DenseCodec;
  readonly round: number;
  readonly taskTag: number;
  readonly vector: Float32Array;
}

/** Encode a dense vector as a frame. float16 saturates at +-65504 and keeps NaN as NaN. */
export function encodeDense(vector: Float32Array, codec: DenseCodec, meta: FrameMeta = {}): Uint8Array {
  const codecId = CODECS[codec];
  if (!codecId) throw new CodecError('INVALID_ARGUMENT', `"codec" expected f32 or f16, got ${String(codec)}`);
  const bodyBytes = vector.length * BYTES_PER_VALUE[codecId]!;
  const out = new Uint8Array(FRAME_HEADER_BYTES + bodyBytes);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint8(4, FRAME_VERSION);
  view.setUint8(5, codecId);
  view.setUint16(6, 0, true);
  view.setUint32(8, vector.length, true);
  view.setUint32(12, vector.length, true);
  view.setUint32(16, meta.round ?? 0, true);
  view.setUint32(20, meta.taskTag ?? 0, true);
  view.setFloat32(24, 1, true);
  view.setUint32(28, bodyBytes, true);
  if (codecId === CODECS.f32) {
    new Float32Array(out.buffer, FRAME_HEADER_BYTES, vector.length).set(vector);
  } else {
    const halves = new Uint16Array(out.buffer, FRAME_HEADER_BYTES, vector.length);
    for (let i = 0; i < vector.length; i++) halves[i] = toHalfBitsSaturating(vector[i]!);
  }
  return out;
}

/** Decode a dense frame, refusing anything truncated, oversized or inconsistent. */
export function decodeDense(bytes: Uint8Array, limits: DecodeLimits = {}): DecodedFrame {
  if (!(bytes instanceof Uint8Array)) throw new CodecError('BAD_FRAME', 'frame expected bytes');
  if (bytes.byteLength < FRAME_HEADER_BYTES) {
    throw new CodecError('BAD_FRAME', `frame of ${bytes.byteLength} bytes is shorter than its header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new CodecError('BAD_FRAME', 'frame has a wrong magic number');
  const version = view.getUint8(4);
  if (version !== FRAME_VERSION)
    throw new CodecError('BAD_FRAME', `frame version ${version} is not supported`);
  const codecId = view.getUint8(5);
  const width = BYTES_PER_VALUE[codecId];
  if (!width) throw new CodecError('BAD_FRAME', `frame codec ${codecId} is not a dense codec`);
  const dimension = view.getUint32(8, true);
  const count = view.getUint32(12, true);
  const bodyBytes = view.getUint32(28, true);
  if (limits.dimension !== undefined && dimension !== limits.dimension) {
    throw new CodecError(
      'SHAPE_MISMATCH',
      `frame dimension ${dimension} differs from expected ${limits.dimension}`,
    );
  }
  if (limits.maxDimension !== undefined && dimension > limits.maxDimension) {
    throw new CodecError('PAYLOAD_TOO_LARGE', `frame dimension ${dimension} exceeds ${limits.maxDimension}`);
  }
  if (count !== dimension)
    throw new CodecError('BAD_FRAME', `dense frame has ${count} values for dimension ${dimension}`);
  if (bodyBytes !== count * width || bytes.byteLength !== FRAME_HEADER_BYTES + bodyBytes) {
    throw new CodecError(
      'BAD_FRAME',
      `frame body of ${bytes.byteLength - FRAME_HEADER_BYTES} bytes, header says ${bodyBytes}`,
    );
  }
  const vector = new Float32Array(dimension);
  const bodyOffset = bytes.byteOffset + FRAME_HEADER_BYTES;
  if (width === 4) {
    // Typed arrays use the platform's byte order, little endian on every platform Pollen runs on.
    // Node's Buffer#slice is a view, not a copy: copy through Uint8Array's own slice to realign.
    const aligned =
      bodyOffset % 4 === 0 ? bytes.buffer : Uint8Array.prototype.slice.call(bytes, FRAME_HEADER_BYTES).buffer;
    vector.set(new Float32Array(aligned, aligned === bytes.buffer ? bodyOffset : 0, dimension));
  } else {
    for (let i = 0; i < dimension; i++)
      vector[i] = fromHalfBits(view.getUint16(FRAME_HEADER_BYTES + i * 2, true));
  }
  return {
    codec: codecId === CODECS.f32 ? 'f32' : 'f16',
    round: view.getUint32(16, true),
    taskTag: view.getUint32(20, true),
    vector,
  };
}
