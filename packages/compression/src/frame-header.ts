import { CodecError } from './errors.ts';
import { FRAME_HEADER_BYTES, FRAME_MAGIC, FRAME_VERSION, type FrameMeta } from './frame.ts';
import { expectInt, fail } from './validate.ts';

/**
 * The frame header shared by every codec (layout in frame.ts), and the checks every decoder
 * runs on it, cheapest and most telling first, before a body byte is read or an array
 * allocated.
 */

/**
 * Every codec id of frame version 1. Body layouts (little endian; n = header count,
 * d = header dimension):
 *
 *   1 f32          n = d float32 values
 *   2 f16          n = d float16 values
 *   3 sparse-f32   n float32 values, then n sorted indices as gap varints (varint.ts)
 *   4 sparse-f16   n float16 values, then the indices
 *   5-7 sparse-q8, sparse-q4, sparse-q2
 *                  n quantization codes bit-packed (bitpack.ts), then the indices;
 *                  header scale = the quantizer's M
 *   8-10 q8, q4, q2
 *                  n = d codes bit-packed; header scale = M
 *   11 fixed32     float32 range R, then n = d u32 fixed-point values (mod 2^32, possibly
 *                  masked); header scale = the fixed-point scale
 *
 * Values come first so that they start at a fixed offset; the index list, whose length
 * depends on the data, takes the rest of the body.
 */
export const FRAME_CODECS = {
  f32: 1,
  f16: 2,
  'sparse-f32': 3,
  'sparse-f16': 4,
  'sparse-q8': 5,
  'sparse-q4': 6,
  'sparse-q2': 7,
  q8: 8,
  q4: 9,
  q2: 10,
  fixed32: 11,
} as const;

/** Any codec of a version-1 frame. */
export type FrameCodec = keyof typeof FRAME_CODECS;

const CODEC_BY_ID: ReadonlyMap<number, FrameCodec> = new Map(
  (Object.entries(FRAME_CODECS) as [FrameCodec, number][]).map(([name, id]) => [id, name]),
);

/** What `decodeFrame` accepts. `dimension` or `maxDimension` is required. */
export interface FrameLimits {
  /** The dimension the caller expects; a frame of any other dimension is refused (SHAPE_MISMATCH). */
  readonly dimension?: number;
  /** Largest dimension accepted when `dimension` is not given (PAYLOAD_TOO_LARGE). */
  readonly maxDimension?: number;
  /** Largest number of values (k for sparse codecs) accepted (PAYLOAD_TOO_LARGE). */
  readonly maxCount?: number;
  /** Largest frame accepted, header included, in bytes (PAYLOAD_TOO_LARGE). */
  readonly maxBytes?: number;
  /** The codecs accepted here; any other is refused (BAD_FRAME). Default: all. */
  readonly codecs?: readonly FrameCodec[];
}

/** The fields of a frame header. */
export interface FrameHeader {
  readonly codec: FrameCodec;
  readonly dimension: number;
  readonly count: number;
  readonly round: number;
  readonly taskTag: number;
  readonly scale: number;
  readonly bodyBytes: number;
}

/** A frame of `bodyBytes` body with its header written; the caller writes the body. */
export function allocateFrame(
  codec: FrameCodec,
  fields: { dimension: number; count: number; scale: number; bodyBytes: number },
  meta: FrameMeta,
): { bytes: Uint8Array; view: DataView } {
  const round = expectInt('round', meta.round ?? 0, 0, 0xffffffff);
  const taskTag = expectInt('taskTag', meta.taskTag ?? 0, 0, 0xffffffff);
  if (Math.fround(fields.scale) !== fields.scale) fail('scale', 'a float32 value', fields.scale);
  const bytes = new Uint8Array(FRAME_HEADER_BYTES + fields.bodyBytes);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, FRAME_MAGIC, true);
  view.setUint8(4, FRAME_VERSION);
  view.setUint8(5, FRAME_CODECS[codec]);
  view.setUint16(6, 0, true);
  view.setUint32(8, fields.dimension, true);
  view.setUint32(12, fields.count, true);
  view.setUint32(16, round, true);
  view.setUint32(20, taskTag, true);
  view.setFloat32(24, fields.scale, true);
  view.setUint32(28, fields.bodyBytes, true);
  return { bytes, view };
}

/**
 * Read and check a header: the caller's limits (size first, so an oversized frame costs
 * nothing), magic, version, codec, reserved flags, dimension and count against the limits,
 * and the body length against the bytes actually there. Codec-specific consistency (count
 * against dimension and body length) is the caller's next step.
 */
export function readFrameHeader(bytes: Uint8Array, limits: FrameLimits): FrameHeader {
  if (limits.dimension === undefined && limits.maxDimension === undefined) {
    fail('limits', '"dimension" or "maxDimension"', 'neither');
  }
  if (!(bytes instanceof Uint8Array)) throw new CodecError('BAD_FRAME', 'frame expected bytes');
  if (limits.maxBytes !== undefined && bytes.byteLength > limits.maxBytes) {
    throw new CodecError(
      'PAYLOAD_TOO_LARGE',
      `frame of ${bytes.byteLength} bytes exceeds ${limits.maxBytes}`,
    );
  }
  if (bytes.byteLength < FRAME_HEADER_BYTES) {
    throw new CodecError('BAD_FRAME', `frame of ${bytes.byteLength} bytes is shorter than its header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== FRAME_MAGIC)
    throw new CodecError('BAD_FRAME', 'frame has a wrong magic number');
  const version = view.getUint8(4);
  if (version !== FRAME_VERSION)
    throw new CodecError('BAD_FRAME', `frame version ${version} is not supported`);
  const codec = CODEC_BY_ID.get(view.getUint8(5));
  if (codec === undefined) throw new CodecError('BAD_FRAME', `frame codec ${view.getUint8(5)} is unknown`);
  if (limits.codecs !== undefined && !limits.codecs.includes(codec)) {
    throw new CodecError('BAD_FRAME', `frame codec ${codec} is not accepted here`);
  }
  if (view.getUint16(6, true) !== 0) throw new CodecError('BAD_FRAME', 'frame has reserved flags set');
  const dimension = view.getUint32(8, true);
  const count = view.getUint32(12, true);
  if (limits.dimension !== undefined && dimension !== limits.dimension) {
    throw new CodecError(
      'SHAPE_MISMATCH',
      `frame dimension ${dimension} differs from expected ${limits.dimension}`,
    );
  }
  if (limits.maxDimension !== undefined && dimension > limits.maxDimension) {
    throw new CodecError('PAYLOAD_TOO_LARGE', `frame dimension ${dimension} exceeds ${limits.maxDimension}`);
  }
  if (limits.maxCount !== undefined && count > limits.maxCount) {
    throw new CodecError('PAYLOAD_TOO_LARGE', `frame carries ${count} values, more than ${limits.maxCount}`);
  }
  const bodyBytes = view.getUint32(28, true);
  if (bodyBytes !== bytes.byteLength - FRAME_HEADER_BYTES) {
    throw new CodecError(
      'BAD_FRAME',
      `frame body of ${bytes.byteLength - FRAME_HEADER_BYTES} bytes, header says ${bodyBytes}`,
    );
  }
  return {
    codec,
    dimension,
    count,
    round: view.getUint32(16, true),
    taskTag: view.getUint32(20, true),
    scale: view.getFloat32(24, true),
    bodyBytes,
  };
}
