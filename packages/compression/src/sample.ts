import { type Rng, randomInt } from './prng.ts';
import { expectInt } from './validate.ts';

/**
 * k distinct integers drawn uniformly from [0, n), returned sorted ascending.
 *
 * Floyd's algorithm (Bentley and Floyd, "A sample of brilliance", CACM 1987): exactly k draws
 * whatever k is, unlike rejection sampling, which slows down as k approaches n. A byte mask
 * of n entries marks the chosen values and a final scan emits them in order, so the whole
 * call is O(n) time and n bytes, the same order as the vectors it samples coordinates of.
 */
export function sampleWithoutReplacement(n: number, k: number, rng: Rng): Uint32Array {
  expectInt('n', n, 0, 0xffffffff);
  expectInt('k', k, 0, n);
  const chosen = new Uint8Array(n);
  for (let j = n - k; j < n; j++) {
    const t = randomInt(rng, j + 1);
    // If t was taken already, j itself cannot have been (only values below j exist so far).
    chosen[chosen[t] ? j : t] = 1;
  }
  const out = new Uint32Array(k);
  let w = 0;
  for (let i = 0; i < n && w < k; i++) if (chosen[i]) out[w++] = i;
  return out;
}
