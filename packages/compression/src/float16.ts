/**
 * IEEE 754 binary16 conversion with round-to-nearest-even, over a shared scratch buffer so
 * no allocation happens per value. Node 20 has neither Float16Array nor Math.f16round.
 */
const scratch = new DataView(new ArrayBuffer(4));

/** float32 value -> binary16 bits. */
export function toHalfBits(value: number): number {
  scratch.setFloat32(0, value);
  const x = scratch.getUint32(0);
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf or NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow to Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow to zero
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    if (rest > midpoint || (rest === midpoint && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  // A carry out of the mantissa moves into the exponent, which is the right answer.
  e = half >>> 10;
  return sign | (e >= 0x1f ? 0x7c00 : half);
}

/** binary16 bits -> float32 value. */
export function fromHalfBits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Largest finite binary16 value. */
export const HALF_MAX = 65504;

/**
 * float32 value -> binary16 bits, saturating: finite values beyond +-65504 become +-65504
 * instead of infinity (a weight or update that overflows half precision should arrive as
 * the largest half, not poison the model). NaN and infinities convert as in `toHalfBits`.
 */
export function toHalfBitsSaturating(value: number): number {
  return toHalfBits(
    value > HALF_MAX && value !== Number.POSITIVE_INFINITY
      ? HALF_MAX
      : value < -HALF_MAX && value !== Number.NEGATIVE_INFINITY
        ? -HALF_MAX
        : value,
  );
}
