import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sfc32 } from './prng.ts';
import { sampleWithoutReplacement } from './sample.ts';

describe('sampleWithoutReplacement', () => {
  it('returns k distinct sorted values below n', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.nat(), fc.nat(), (n, kSeed, seed) => {
        const k = n === 0 ? 0 : kSeed % (n + 1);
        const out = sampleWithoutReplacement(n, k, sfc32(seed >>> 0));
        expect(out.length).toBe(k);
        for (let j = 0; j < k; j++) {
          expect(out[j]!).toBeLessThan(n);
          if (j > 0) expect(out[j]!).toBeGreaterThan(out[j - 1]!);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('draws every value equally often', () => {
    // 10 of 20, 4000 times: each value is expected 2000 times, standard deviation ~32.
    const counts = new Array<number>(20).fill(0);
    const rng = sfc32(7);
    for (let t = 0; t < 4000; t++) for (const i of sampleWithoutReplacement(20, 10, rng)) counts[i]!++;
    for (const c of counts) expect(Math.abs(c - 2000)).toBeLessThan(200);
  });

  it('refuses k above n', () => {
    expect(() => sampleWithoutReplacement(3, 4, sfc32(1))).toThrow(/"k" expected integer in \[0, 3\]/);
  });
});
