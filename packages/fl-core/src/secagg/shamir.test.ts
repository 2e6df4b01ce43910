import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chachaRandomBytes } from './random.ts';
import { SHAMIR_PRIME, SHARE_BYTES, type ShamirShare, shamirCombine, shamirSplit } from './shamir.ts';

const P = SHAMIR_PRIME;
const secretArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 });

/** A randomBytes that hands out the given field elements, as 48-byte big-endian draws. */
function fixedCoefficients(coefficients: bigint[]): (n: number) => Uint8Array {
  let i = 0;
  return () => numberToBytesBE(coefficients[i++]!, 48);
}

function pick<T>(items: T[], indices: number[]): T[] {
  return indices.map((i) => items[i]!);
}

describe('Shamir secret sharing over GF(2^256 + 297)', () => {
  it('evaluates the polynomial at each point (known answer, t = 2)', () => {
    const secret = numberToBytesBE(5n, 32);
    const [y1, y2, y3] = shamirSplit(secret, [1, 2, 3], 2, fixedCoefficients([P - 1n]));
    // f(x) = 5 - x mod p
    expect(bytesToNumberBE(y1!)).toBe(4n);
    expect(bytesToNumberBE(y2!)).toBe(3n);
    expect(bytesToNumberBE(y3!)).toBe(2n);
    expect(y1).toHaveLength(SHARE_BYTES);
    expect(
      shamirCombine(
        [
          { x: 3, y: y3! },
          { x: 1, y: y1! },
        ],
        2,
      ),
    ).toEqual(secret);
  });

  it('reconstructs from any t of the shares', () => {
    const caseArb = fc
      .tuple(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 8 }))
      .chain(([t, extra]) =>
        fc.tuple(
          fc.constant(t),
          fc.constant(t + extra),
          fc.shuffledSubarray(
            Array.from({ length: t + extra }, (_, i) => i),
            { minLength: t, maxLength: t },
          ),
        ),
      );
    fc.assert(
      fc.property(secretArb, seedArb, caseArb, (secret, seed, [t, m, subset]) => {
        const xs = Array.from({ length: m }, (_, i) => 3 * i + 1);
        const ys = shamirSplit(secret, xs, t, chachaRandomBytes(seed));
        const shares: ShamirShare[] = xs.map((x, i) => ({ x, y: ys[i]! }));
        expect(shamirCombine(pick(shares, subset), t)).toEqual(secret);
        expect(shamirCombine(shares, t)).toEqual(secret);
      }),
      { numRuns: 100 },
    );
  });

  it('gives t - 1 holders nothing: any two secrets have equally likely identical t - 1 shares', () => {
    // For secrets s, s' and t - 1 points x_i, the map a -> a + delta (delta the coefficients of
    // (s' - s) * prod_i (1 - x / x_i)) is a bijection of the random coefficients under which the
    // t - 1 shares of s equal those of s'. So the shares' distribution does not depend on s.
    fc.assert(
      fc.property(secretArb, secretArb, seedArb, fc.integer({ min: 2, max: 6 }), (s, s2, seed, t) => {
        const xs = Array.from({ length: t - 1 }, (_, i) => 2 * i + 1);
        const rng = chachaRandomBytes(seed);
        const a = Array.from({ length: t - 1 }, () => bytesToNumberBE(rng(48)) % P);
        let delta = [(bytesToNumberBE(s2) - bytesToNumberBE(s) + P) % P];
        for (const x of xs) {
          // multiply by (1 - x^{-1} X)
          const inv = modInverse(BigInt(x));
          const next = [...delta, 0n];
          for (let i = 0; i < delta.length; i++) next[i + 1] = (next[i + 1]! - delta[i]! * inv + P * P) % P;
          delta = next;
        }
        const a2 = a.map((c, i) => (c + delta[i + 1]!) % P);
        const points = [...xs, 99];
        const ys = shamirSplit(s, points, t, fixedCoefficients(a));
        const ys2 = shamirSplit(s2, points, t, fixedCoefficients(a2));
        expect(ys.slice(0, t - 1)).toEqual(ys2.slice(0, t - 1));
        const withLast = (values: Uint8Array[]): ShamirShare[] =>
          pick(points, [...xs.keys(), t - 1]).map((x, i) => ({ x, y: values[i]! }));
        expect(shamirCombine(withLast(ys), t)).toEqual(s);
        expect(shamirCombine(withLast(ys2), t)).toEqual(s2);
      }),
      { numRuns: 50 },
    );
  });

  it('refuses too few shares, repeated or invalid points and values outside the field', () => {
    const secret = new Uint8Array(32).fill(9);
    const ys = shamirSplit(secret, [1, 2, 3], 3, chachaRandomBytes(new Uint8Array(32)));
    const shares = ys.map((y, i) => ({ x: i + 1, y }));
    expect(() => shamirCombine(shares.slice(0, 2), 3)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => shamirCombine([shares[0]!, shares[0]!, shares[1]!], 3)).toThrow(/twice/);
    expect(() => shamirCombine([{ x: 1, y: numberToBytesBE(P, 33) }, ...shares.slice(1)], 3)).toThrow(
      expect.objectContaining({ code: 'INVALID_MESSAGE' }),
    );
    expect(() => shamirSplit(secret, [0, 1], 2, chachaRandomBytes(secret))).toThrow(/share point/);
    expect(() => shamirSplit(secret, [1, 2], 3, chachaRandomBytes(secret))).toThrow(/threshold/);
    expect(() => shamirSplit(new Uint8Array(31), [1, 2], 2, chachaRandomBytes(secret))).toThrow(/secret/);
  });

  it('refuses an interpolated value that is no 32-byte secret', () => {
    // Shares of the constant polynomial f = 2^256 (a field element, but no 32-byte secret).
    const y = numberToBytesBE(2n ** 256n, 33);
    expect(() =>
      shamirCombine(
        [
          { x: 1, y },
          { x: 2, y },
        ],
        2,
      ),
    ).toThrow(expect.objectContaining({ code: 'INVALID_MESSAGE' }));
  });
});

function modInverse(value: bigint): bigint {
  // Fermat: value^(p - 2) mod p.
  let result = 1n;
  let base = value % P;
  let exponent = P - 2n;
  while (exponent > 0n) {
    if (exponent & 1n) result = (result * base) % P;
    base = (base * base) % P;
    exponent >>= 1n;
  }
  return result;
}
