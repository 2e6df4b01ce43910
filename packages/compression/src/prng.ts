import { expectInt } from './validate.ts';

/**
 * A source of uniform numbers in [0, 1). Every randomized algorithm in this package takes one
 * as an argument (there is no Math.random here), so a run can be replayed exactly, in a
 * browser, a worker or Node. Structurally the same type as fl-core's `Rng`.
 */
export type Rng = () => number;

/**
 * sfc32 ("small fast chaotic", from PractRand by Chris Doty-Humphrey) seeded from a 32-bit
 * integer: 128 bits of state, passes BigCrush and PractRand to many terabytes, a handful of
 * 32-bit operations per draw. Seeded as fl-core's `seededRng` (a, b, c from the digits of
 * the golden ratio, pi and e, the counter set to the seed, 12 outputs discarded to mix the
 * seed in), so the same seed gives the same stream in both packages. Server and clients use it
 * to draw the same exploration coordinates from a round's seed; it is not a CSPRNG and must
 * never produce key material or secure-aggregation masks.
 */
export function sfc32(seed: number): Rng {
  expectInt('seed', seed, 0, 0xffffffff);
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let counter = seed >>> 0;
  const next = (): number => {
    const t = (((a + b) | 0) + counter) | 0;
    counter = (counter + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    // 2^-32 steps: every output is exactly representable and strictly below 1.
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

/**
 * A uniform integer in [0, n) from one draw. With 32-bit draws the bias is at most n / 2^32,
 * negligible for model dimensions; the clamp keeps a misbehaving Rng that returns 1 in range.
 */
export function randomInt(rng: Rng, n: number): number {
  return Math.min(n - 1, Math.floor(rng() * n));
}
