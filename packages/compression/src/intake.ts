import { packedLength } from './bitpack.ts';
import { CodecError } from './errors.ts';
import { fromHalfBits } from './float16.ts';
import { FRAME_HEADER_BYTES } from './frame.ts';
import { type FrameCodec, readFrameHeader } from './frame-header.ts';
import { quantizationLevels } from './quantize.ts';
import type { SparseVector } from './sparse.ts';
import { decodeUpload, maxUploadBytes, type UploadPlan, uploadCodec } from './upload.ts';

/**
 * The coordinator's intake of one upload in as few passes over its bytes as correctness
 * allows: header and bounds checked before anything is read, then ONE pass over the body that
 * decodes, checks finiteness and sums the squares (the L2 norm), then, once the caller has
 * accepted the update (its norm is within the bound, its sender in the round), one pass that
 * folds it into the round's float64 sum (`foldDense`, or WeightedAccumulator.add).
 *
 * Why not fold in the checking pass too: an update is refused for a non-finite value or a
 * norm over the bound, both known only at the end of the pass, and a fold cannot be undone:
 * a NaN added to the sum stays NaN, and (s + w x) - w x is not s in floating point. Undoing
 * would need a copy of the sum, which costs more than the second pass.
 *
 * A dense float32 body that sits 4-byte aligned is not copied: the returned vector is a view
 * of the frame's bytes (the caller must not reuse the frame's buffer while it holds it).
 */

/** An upload decoded, checked and measured: what the round folds in. */
export interface CheckedUpload {
  /** The update: dense (possibly a view of the frame), or sparse for the O(k) accumulator. */
  readonly delta: Float32Array | SparseVector;
  /** Its L2 norm (float64 sum of squares). */
  readonly norm: number;
}

const DENSE_FLOAT: readonly FrameCodec[] = ['f32', 'f16'];

/**
 * Decode an upload as its round declared it, in one pass per value: `plan` null means a dense
 * float frame (f32 or f16, the task's codec); otherwise exactly the plan's codec, at most k
 * values, a shared round's own coordinates (see decodeUpload). Values come back finite.
 * Throws CodecError: BAD_FRAME, SHAPE_MISMATCH, PAYLOAD_TOO_LARGE, NON_FINITE.
 */
export function checkUpload(bytes: Uint8Array, plan: UploadPlan | null, dimension: number): CheckedUpload {
  if (plan !== null && plan.kind !== 'none') {
    // Sparse: decoding already checks every value (O(k)); the norm is one more O(k) pass.
    const decoded = decodeUpload(bytes, plan, dimension);
    const vector = decoded.kind === 'sparse' ? decoded.vector : null;
    if (vector === null) throw new CodecError('BAD_FRAME', 'a sparse plan decoded to a dense upload');
    return { delta: vector, norm: Math.sqrt(sumOfSquares(vector.values, vector.values.length)) };
  }
  const codecs = plan === null ? DENSE_FLOAT : [uploadCodec(plan)];
  const header = readFrameHeader(bytes, {
    dimension,
    maxCount: dimension,
    ...(plan === null ? {} : { maxBytes: maxUploadBytes(plan, dimension) }),
    codecs,
  });
  const { codec, count, bodyBytes } = header;
  const width = codec === 'f32' ? 4 : codec === 'f16' ? 2 : 0;
  const expected = width ? count * width : packedLength(count, quantBits(codec));
  if (count !== dimension || bodyBytes !== expected) {
    throw new CodecError(
      'BAD_FRAME',
      `${codec} frame of dimension ${dimension} cannot hold ${count} values in ${bodyBytes} bytes`,
    );
  }
  const at = bytes.byteOffset + FRAME_HEADER_BYTES;
  if (codec === 'f32') return checkF32(bytes, at, count);
  if (codec === 'f16') return checkF16(bytes, at, count);
  return checkQuantized(bytes.subarray(FRAME_HEADER_BYTES), count, quantBits(codec), header.scale);
}

/** sum[i] += weight * values[i]: the fold, one pass, float64 sum. */
export function foldDense(sum: Float64Array, values: Float32Array, weight: number): void {
  if (values.length !== sum.length) {
    throw new CodecError('SHAPE_MISMATCH', `"values" expected ${sum.length} values, got ${values.length}`);
  }
  for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + weight * values[i]!;
}

/**
 * sum of x[i]^2 in float64: finite for any finite float32 input (each square is at most
 * ~1.2e77). Four partial sums, so the additions do not wait on each other (a single running
 * sum is bound by the latency of one add per element).
 */
function sumOfSquares(x: Float32Array, count: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const end = count - (count % 4);
  for (let i = 0; i < end; i += 4) {
    const a = x[i]!;
    const b = x[i + 1]!;
    const c = x[i + 2]!;
    const e = x[i + 3]!;
    s0 += a * a;
    s1 += b * b;
    s2 += c * c;
    s3 += e * e;
  }
  for (let i = end; i < count; i++) s0 += x[i]! * x[i]!;
  return s0 + s1 + (s2 + s3);
}

function checkF32(bytes: Uint8Array, at: number, count: number): CheckedUpload {
  // A view when aligned; else one copy through Uint8Array's own slice (Node's Buffer#slice is a view).
  const values =
    at % 4 === 0
      ? new Float32Array(bytes.buffer, at, count)
      : new Float32Array(Uint8Array.prototype.slice.call(bytes, FRAME_HEADER_BYTES).buffer, 0, count);
  // The squares of finite float32 values cannot overflow float64, so the sum is finite exactly
  // when every value is: finiteness costs no test per element, only one at the end.
  const s = sumOfSquares(values, count);
  if (!Number.isFinite(s)) throw nonFinite(values);
  return { delta: values, norm: Math.sqrt(s) };
}

/** binary16 bits -> float32 value, for all 2^16 patterns (256 KB, built on first use). */
let halfTable: Float32Array | null = null;

function halves(): Float32Array {
  if (halfTable === null) {
    halfTable = new Float32Array(0x10000);
    for (let bits = 0; bits < 0x10000; bits++) halfTable[bits] = fromHalfBits(bits);
  }
  return halfTable;
}

function checkF16(bytes: Uint8Array, at: number, count: number): CheckedUpload {
  const table = halves();
  const bits =
    at % 2 === 0
      ? new Uint16Array(bytes.buffer, at, count)
      : new Uint16Array(Uint8Array.prototype.slice.call(bytes, FRAME_HEADER_BYTES).buffer, 0, count);
  // Decode and sum the squares in one pass, four partial sums as in sumOfSquares.
  const values = new Float32Array(count);
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const end = count - (count % 4);
  for (let i = 0; i < end; i += 4) {
    const a = table[bits[i]!]!;
    const b = table[bits[i + 1]!]!;
    const c = table[bits[i + 2]!]!;
    const e = table[bits[i + 3]!]!;
    values[i] = a;
    values[i + 1] = b;
    values[i + 2] = c;
    values[i + 3] = e;
    s0 += a * a;
    s1 += b * b;
    s2 += c * c;
    s3 += e * e;
  }
  for (let i = end; i < count; i++) {
    const a = table[bits[i]!]!;
    values[i] = a;
    s0 += a * a;
  }
  const s = s0 + s1 + (s2 + s3);
  if (!Number.isFinite(s)) throw nonFinite(values);
  return { delta: values, norm: Math.sqrt(s) };
}

/**
 * Dense QSGD codes (quantize.ts): unpack, check each code is on the grid, dequantize to
 * (code - h) * M / h and sum the squares, in one pass. Dequantized values are finite by
 * construction (the header's scale is a finite float32, checked here).
 */
function checkQuantized(body: Uint8Array, count: number, bits: 2 | 4 | 8, scale: number): CheckedUpload {
  if (!(Number.isFinite(scale) && scale >= 0)) {
    throw new CodecError('BAD_FRAME', `quantization scale must be finite and >= 0, got ${scale}`);
  }
  const h = quantizationLevels(bits);
  // The same expression as dequantize, so values match it bit for bit.
  const level = new Float32Array(2 * h + 1);
  for (let c = 0; c <= 2 * h; c++) level[c] = ((c - h) * scale) / h;
  const values = new Float32Array(count);
  const perByte = 8 / bits;
  const mask = (1 << bits) - 1;
  const top = 2 * h;
  let s = 0;
  for (let b = 0; b < body.length; b++) {
    const byte = body[b]!;
    const base = b * perByte;
    const inByte = Math.min(perByte, count - base);
    for (let j = 0; j < perByte; j++) {
      const code = (byte >>> (j * bits)) & mask;
      if (j < inByte ? code > top : code !== 0) {
        throw new CodecError('BAD_FRAME', `quantization code ${code} at ${base + j} is off the grid`);
      }
      if (j < inByte) {
        const v = level[code]!;
        values[base + j] = v;
        s += v * v;
      }
    }
  }
  return { delta: values, norm: Math.sqrt(s) };
}

function quantBits(codec: FrameCodec): 2 | 4 | 8 {
  const bits = Number(codec.replace(/^sparse-/, '').slice(1));
  if (bits !== 2 && bits !== 4 && bits !== 8)
    throw new CodecError('BAD_FRAME', `codec ${codec} is not quantized`);
  return bits;
}

function nonFinite(values: Float32Array): CodecError {
  let i = 0;
  while (i < values.length && Number.isFinite(values[i]!)) i++;
  return new CodecError('NON_FINITE', `frame value ${i} is not finite`);
}
