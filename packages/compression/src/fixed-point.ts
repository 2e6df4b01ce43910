import type { Rng } from './prng.ts';
import { expectFloat32, expectInt, expectPositive, fail } from './validate.ts';

/**
 * Fixed-point encoding for secure aggregation. SecAgg (Bonawitz et al., CCS 2017) masks
 * integers in Z_(2^32) and the server only ever sees their sum, so each client clips its
 * values to a declared range [-R, R], multiplies by a scale and rounds to an integer, stored
 * in two's complement mod 2^32. The sum of n such vectors mod 2^32 is the true integer sum as
 * long as it stays in the signed 32-bit range, which holds when n * ceil(R * scale) < 2^31:
 * reading the sum back as a signed int32 then undoes the wrap-around exactly.
 *
 * Rounding is to nearest by default; with an Rng it is stochastic (up with probability equal
 * to the fractional part), which makes each encoded value unbiased, as the distributed-DP
 * analyses of discretized updates assume (Kairouz et al., "The distributed discrete Gaussian
 * mechanism", ICML 2021).
 *
 * Range and scale travel as float32 in a frame, so both are rounded to float32 here first:
 * encoder and decoder then use exactly the same numbers.
 */

/** The declared range and the resolution of a fixed-point encoding. */
export interface FixedPointOptions {
  /** R > 0: values are clipped to [-R, R] before encoding. */
  readonly range: number;
  /** Integer units per 1.0. Give `scale` or `bits`, not both. */
  readonly scale?: number;
  /**
   * Width of one client's integers, 2..31: scale = (2^(bits-1) - 1) / R (rounded down to a
   * float32), so a value at the end of the range uses all of them (up to 24 bits; past that
   * the float32 scale may leave the top few values unused). Summing n clients then needs
   * bits + log2(n) <= 32.
   */
  readonly bits?: number;
}

/** Options for `encodeFixedPoint`. */
export interface FixedPointEncodeOptions extends FixedPointOptions {
  /** Round stochastically with this Rng (unbiased) instead of to nearest. */
  readonly rng?: Rng;
}

/** The float32 range and scale an encoding uses, and the largest integer magnitude it emits. */
export interface ResolvedFixedPoint {
  readonly range: number;
  readonly scale: number;
  /** ceil(range * scale), at most 2^31 - 1: no encoded value exceeds it in magnitude. */
  readonly maxInt: number;
}

const INT32_MAX = 0x7fffffff;

/** Resolve `bits` or `scale` to the float32 range and scale actually used, checking them. */
export function resolveFixedPoint(options: FixedPointOptions): ResolvedFixedPoint {
  const range = Math.fround(expectPositive('range', options.range));
  if (options.scale !== undefined && options.bits !== undefined) {
    fail('options', 'one of "scale" or "bits", not both', 'both');
  }
  let scale: number;
  if (options.bits !== undefined) {
    const target = 2 ** (expectInt('bits', options.bits, 2, 31) - 1) - 1;
    scale = Math.fround(target / range);
    // Rounding the scale to float32 may push range * scale past the target: step it down.
    if (range * scale > target) scale = float32Below(scale);
  } else if (options.scale !== undefined) {
    scale = Math.fround(expectPositive('scale', options.scale));
  } else {
    return fail('options', '"scale" or "bits"', undefined);
  }
  if (!(scale > 0 && Number.isFinite(scale))) fail('scale', 'positive finite float32', scale);
  // Clipped values satisfy |x * scale| <= range * scale (float64 products are monotone), and
  // both roundings return at most the ceiling: no encoded integer exceeds maxInt.
  const maxInt = Math.ceil(range * scale);
  if (maxInt > INT32_MAX) fail('range * scale', `at most ${INT32_MAX}`, range * scale);
  return { range, scale, maxInt };
}

const bits32 = new DataView(new ArrayBuffer(4));

/** The largest float32 strictly below a positive float32. */
function float32Below(x: number): number {
  bits32.setFloat32(0, x);
  bits32.setUint32(0, bits32.getUint32(0) - 1);
  return bits32.getFloat32(0);
}

/**
 * How many encoded vectors can be summed mod 2^32 and still decoded: floor((2^31 - 1) / maxInt).
 */
export function maxFixedPointSummands(options: FixedPointOptions): number {
  return Math.floor(INT32_MAX / resolveFixedPoint(options).maxInt);
}

/**
 * Encode `x` as integers mod 2^32: clip to [-R, R], multiply by the scale, round (to nearest,
 * ties away from zero, or stochastically with `options.rng`), store in two's complement.
 * NaN is refused; infinities clip to the range.
 */
export function encodeFixedPoint(x: Float32Array, options: FixedPointEncodeOptions): Uint32Array {
  expectFloat32('x', x);
  const { range, scale } = resolveFixedPoint(options);
  const { rng } = options;
  const out = new Uint32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const value = x[i]!;
    if (Number.isNaN(value)) fail(`x[${i}]`, 'a number', value);
    const v = Math.min(range, Math.max(-range, value)) * scale;
    let n: number;
    if (rng) {
      const low = Math.floor(v);
      n = rng() < v - low ? low + 1 : low;
    } else {
      n = v < 0 ? -Math.round(-v) : Math.round(v);
    }
    out[i] = n >>> 0;
  }
  return out;
}

/**
 * Decode the mod-2^32 sum of `count` vectors encoded with the same options back to floats
 * (the sum, not the mean). Refuses a count the encoding has no headroom for
 * (count * maxInt >= 2^31), where the wrap-around could no longer be undone.
 */
export function decodeFixedPointSum(
  sum: Uint32Array,
  options: FixedPointOptions,
  count: number,
): Float32Array {
  if (!(sum instanceof Uint32Array)) fail('sum', 'Uint32Array', sum);
  const { scale, maxInt } = resolveFixedPoint(options);
  expectInt('count', count, 1, Math.floor(INT32_MAX / maxInt));
  const out = new Float32Array(sum.length);
  for (let i = 0; i < sum.length; i++) out[i] = (sum[i]! | 0) / scale;
  return out;
}
