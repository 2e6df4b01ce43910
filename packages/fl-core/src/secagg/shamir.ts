import { invert } from '@noble/curves/abstract/modular.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { PollenError } from '../errors.ts';
import { type RandomBytes, takeBytes } from './random.ts';

/**
 * Shamir secret sharing (Shamir, "How to share a secret", CACM 1979) of 32-byte secrets, as
 * SecAgg uses it for each client's self-mask seed and mask secret key (Bonawitz et al.,
 * "Practical Secure Aggregation for Privacy-Preserving Machine Learning", CCS 2017).
 *
 * The field is GF(p) with p = 2^256 + 297, the smallest prime above 2^256, so every 32-byte
 * secret is one field element and no secret needs reducing. A secret s becomes the constant
 * term of a random polynomial f of degree t - 1; holder x gets f(x). Any t shares determine f
 * and so s = f(0) (Lagrange interpolation); any t - 1 shares are consistent with every s.
 */

/** The field modulus, 2^256 + 297 (prime). */
export const SHAMIR_PRIME: bigint = 2n ** 256n + 297n;
/** Bytes of one share value: a field element, big-endian (p needs 257 bits). */
export const SHARE_BYTES = 33;
/** Bytes of a shared secret. */
export const SECRET_BYTES = 32;

const P = SHAMIR_PRIME;
const SECRET_LIMIT = 2n ** 256n;

/** One share: the holder's evaluation point `x` (a positive integer) and `y = f(x)`. */
export interface ShamirShare {
  readonly x: number;
  /** f(x) as `SHARE_BYTES` big-endian bytes. */
  readonly y: Uint8Array;
}

/** A uniform field element: 48 bytes reduced mod p, statistically within 2^-127 of uniform. */
function randomElement(randomBytes: RandomBytes): bigint {
  return bytesToNumberBE(takeBytes(randomBytes, 48)) % P;
}

function checkXs(xs: readonly number[]): void {
  const seen = new Set<number>();
  for (const x of xs) {
    if (!Number.isInteger(x) || x < 1 || x > 0xffffffff) {
      throw new PollenError('INVALID_ARGUMENT', `share point expected integer in [1, 2^32 - 1], got ${x}`);
    }
    if (seen.has(x)) throw new PollenError('INVALID_ARGUMENT', `share point ${x} appears twice`);
    seen.add(x);
  }
}

/**
 * Split a 32-byte `secret` into one share per point of `xs` (distinct integers >= 1, e.g. the
 * holders' ids + 1) so that any `threshold` of them reconstruct it and fewer reveal nothing.
 * Returns the share values in the order of `xs`.
 */
export function shamirSplit(
  secret: Uint8Array,
  xs: readonly number[],
  threshold: number,
  randomBytes: RandomBytes,
): Uint8Array[] {
  if (!(secret instanceof Uint8Array) || secret.length !== SECRET_BYTES) {
    throw new PollenError('INVALID_ARGUMENT', `"secret" expected ${SECRET_BYTES} bytes`);
  }
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > xs.length) {
    throw new PollenError(
      'INVALID_ARGUMENT',
      `"threshold" expected integer in [1, ${xs.length}], got ${threshold}`,
    );
  }
  checkXs(xs);
  // f(x) = s + a_1 x + ... + a_{t-1} x^{t-1}, evaluated by Horner's rule.
  const coefficients = [bytesToNumberBE(secret)];
  for (let i = 1; i < threshold; i++) coefficients.push(randomElement(randomBytes));
  return xs.map((xNumber) => {
    const x = BigInt(xNumber);
    let y = 0n;
    for (let i = coefficients.length - 1; i >= 0; i--) y = (y * x + coefficients[i]!) % P;
    return numberToBytesBE(y, SHARE_BYTES);
  });
}

/** Decode a share value, refusing anything that is not a field element. */
export function decodeShareValue(y: Uint8Array): bigint {
  if (!(y instanceof Uint8Array) || y.length !== SHARE_BYTES) {
    throw new PollenError('INVALID_MESSAGE', `share expected ${SHARE_BYTES} bytes`);
  }
  const value = bytesToNumberBE(y);
  if (value >= P) throw new PollenError('INVALID_MESSAGE', 'share is not a field element');
  return value;
}

/**
 * Reconstruct the secret from the first `threshold` of `shares` by Lagrange interpolation at
 * zero: s = sum_i y_i * prod_{j != i} x_j / (x_j - x_i). Throws INVALID_ARGUMENT with fewer
 * shares, and INVALID_MESSAGE when the result lies in [2^256, p) and so is no 32-byte secret.
 * A wrong share almost always gives a wrong 32-byte secret instead, which only a check of the
 * result can catch (the server compares a recovered mask key with its public key).
 */
export function shamirCombine(shares: readonly ShamirShare[], threshold: number): Uint8Array {
  if (!Number.isInteger(threshold) || threshold < 1) {
    throw new PollenError('INVALID_ARGUMENT', `"threshold" expected a positive integer, got ${threshold}`);
  }
  if (shares.length < threshold) {
    throw new PollenError('INVALID_ARGUMENT', `need ${threshold} shares, got ${shares.length}`);
  }
  const used = shares.slice(0, threshold);
  checkXs(used.map((share) => share.x));
  const xs = used.map((share) => BigInt(share.x));
  let secret = 0n;
  for (let i = 0; i < used.length; i++) {
    const xi = xs[i]!;
    let numerator = 1n;
    let denominator = 1n;
    for (let j = 0; j < used.length; j++) {
      if (j === i) continue;
      const xj = xs[j]!;
      numerator = (numerator * xj) % P;
      denominator = (denominator * (((xj - xi) % P) + P)) % P;
    }
    const lagrange = (numerator * invert(denominator, P)) % P;
    secret = (secret + decodeShareValue(used[i]!.y) * lagrange) % P;
  }
  if (secret >= SECRET_LIMIT) {
    throw new PollenError('INVALID_MESSAGE', 'shares do not interpolate to a 32-byte secret');
  }
  return numberToBytesBE(secret, SECRET_BYTES);
}
