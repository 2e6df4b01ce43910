import { packBits, packedLength, unpackBits } from './bitpack.ts';
import { CodecError } from './errors.ts';
import type { Rng } from './prng.ts';
import { expectFloat32, expectInt, fail } from './validate.ts';

/**
 * Stochastic uniform quantization, after QSGD (Alistarh et al., NeurIPS 2017). A vector is
 * scaled by its largest magnitude M onto a symmetric grid of 2h + 1 levels,
 * {-M, ..., -M/h, 0, M/h, ..., M} with h = 2^(bits-1) - 1, and each value is rounded to one
 * of its two neighbouring levels at random, up with probability equal to its distance from
 * the lower one. So E[dequantize(quantize(x))] = x exactly (unbiased), each coordinate is off
 * by less than one step M/h, and its variance is at most (M/h)^2 / 4.
 *
 * Why these choices: QSGD's analysis scales by the L2 norm; scaling by the max norm instead
 * (as TernGrad does, Wen et al., NeurIPS 2017) uses the whole grid and keeps every
 * coordinate within one step, a lower variance for the same bits. The grid is symmetric with
 * an exact zero (one of the 2^bits codes goes unused) so zeros and the signs of small values
 * survive; at 2 bits it is TernGrad's {-M, 0, M}. One scale per vector: quantizing buckets
 * separately, as QSGD does, would lower the variance at the cost of a float per bucket.
 */

/** Supported code widths. */
export type QuantBits = 2 | 4 | 8;

/** A quantized vector: `length` codes of `bits` bits, packed (see bitpack.ts), and the scale M. */
export interface QuantizedVector {
  readonly bits: QuantBits;
  readonly length: number;
  /** M, the largest magnitude of the input (a float32 value); 0 for an all-zero vector. */
  readonly scale: number;
  readonly packed: Uint8Array;
}

/** h = 2^(bits-1) - 1: the number of non-zero levels on each side of zero. */
export function quantizationLevels(bits: QuantBits): number {
  expectBits(bits);
  return 2 ** (bits - 1) - 1;
}

/**
 * The largest error one coordinate can have after a round trip, scale / h (one grid step);
 * the standard deviation is at most half of it.
 */
export function quantizationStep(scale: number, bits: QuantBits): number {
  return scale / quantizationLevels(bits);
}

/**
 * Quantize `x` to `bits` bits per value, unbiasedly, with one draw of `rng` per value.
 * Refuses NaN and infinities (they have no place on the grid).
 */
export function quantize(x: Float32Array, bits: QuantBits, rng: Rng): QuantizedVector {
  expectFloat32('x', x);
  const h = quantizationLevels(bits);
  let scale = 0;
  for (let i = 0; i < x.length; i++) {
    const m = Math.abs(x[i]!);
    if (!Number.isFinite(m)) fail(`x[${i}]`, 'finite number', x[i]);
    if (m > scale) scale = m;
  }
  const codes = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) {
    // |x| <= scale, so u is in [-h, h]; draw even when u sits on a level so the number of
    // draws, and hence everything drawn after, does not depend on the data.
    const u = scale === 0 ? 0 : (x[i]! / scale) * h;
    const low = Math.floor(u);
    let level = rng() < u - low ? low + 1 : low;
    if (level > h) level = h;
    else if (level < -h) level = -h;
    codes[i] = level + h;
  }
  return { bits, length: x.length, scale, packed: packBits(codes, bits) };
}

/**
 * Check a QuantizedVector that came from the wire, without unpacking it: a finite scale >= 0,
 * a packed buffer of the right length, every code on the grid (at most 2h) and the unused
 * bits of the last byte zero. Throws CodecError 'BAD_FRAME'.
 */
export function validateQuantized(q: QuantizedVector): QuantizedVector {
  const h = quantizationLevels(q.bits);
  expectInt('length', q.length, 0, 0xffffffff);
  if (!(Number.isFinite(q.scale) && q.scale >= 0)) {
    throw new CodecError('BAD_FRAME', `quantization scale must be finite and >= 0, got ${q.scale}`);
  }
  const { packed, bits, length } = q;
  if (!(packed instanceof Uint8Array) || packed.length !== packedLength(length, bits)) {
    throw new CodecError('BAD_FRAME', `${length} codes of ${bits} bits do not fit the packed bytes`);
  }
  const perByte = 8 / bits;
  const mask = (1 << bits) - 1;
  for (let b = 0; b < packed.length; b++) {
    const byte = packed[b]!;
    const inByte = Math.min(perByte, length - b * perByte);
    for (let s = 0; s < perByte; s++) {
      const code = (byte >>> (s * bits)) & mask;
      if (s < inByte ? code > 2 * h : code !== 0) {
        throw new CodecError('BAD_FRAME', `quantization code ${code} at ${b * perByte + s} is off the grid`);
      }
    }
  }
  return q;
}

/**
 * The values a QuantizedVector stands for. Refuses one that `validateQuantized` refuses
 * (CodecError 'BAD_FRAME'), since quantized vectors arrive from the wire.
 */
export function dequantize(q: QuantizedVector): Float32Array {
  validateQuantized(q);
  const h = quantizationLevels(q.bits);
  const codes = unpackBits(q.packed, q.bits, q.length);
  const out = new Float32Array(q.length);
  const { scale } = q;
  for (let i = 0; i < codes.length; i++) {
    // (level * M) / h rather than level * (M / h): exact at the ends, where level = +-h.
    out[i] = ((codes[i]! - h) * scale) / h;
  }
  return out;
}

function expectBits(bits: unknown): asserts bits is QuantBits {
  if (bits !== 2 && bits !== 4 && bits !== 8) fail('bits', '2, 4 or 8', bits);
}
