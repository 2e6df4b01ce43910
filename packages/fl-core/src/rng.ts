import { sfc32 } from '@pollen/compression';
import { expectInt } from './validate.ts';

/** A source of uniform numbers in [0, 1). Algorithms take one so every run can be replayed. */
export type Rng = () => number;

/**
 * A small seeded generator (sfc32, from PractRand): fast, passes BigCrush, 128 bits of
 * state. The one implementation lives in @pollen/compression, so a seed gives the same
 * stream in both packages. For simulations and sampling, not for cryptography: key material
 * comes from a CSPRNG in the apps.
 */
export function seededRng(seed: number): Rng {
  expectInt('seed', seed, 0, 0xffffffff);
  return sfc32(seed);
}

/** A standard normal draw (Box-Muller; the second value is discarded to keep the Rng stateless). */
export function gaussian(rng: Rng): number {
  let u = rng();
  while (u === 0) u = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** A Gamma(shape, 1) draw (Marsaglia and Tsang 2000), used for Dirichlet partitions. */
export function gamma(rng: Rng, shape: number): number {
  if (shape < 1) {
    // Boost: Gamma(a) = Gamma(a + 1) * U^(1/a).
    return gamma(rng, shape + 1) * rng() ** (1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = gaussian(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng();
    if (u < 1 - 0.0331 * x ** 4) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Fisher-Yates shuffle in place. */
export function shuffle<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = items[i]!;
    items[i] = items[j]!;
    items[j] = tmp;
  }
  return items;
}

/** Hash a string to an unsigned 32-bit seed (FNV-1a). */
export function hashSeed(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
