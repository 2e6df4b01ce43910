import { describe, expect, it } from 'vitest';
import { randomInt, sfc32 } from './prng.ts';

// Known answers from a C transcription of PractRand's sfc32 step with the same seeding
// (a, b, c = 0x9e3779b9, 0x243f6a88, 0xb7e15162; counter = seed; 12 outputs discarded).
const KNOWN: [number, number[]][] = [
  [0, [1699431568, 3485434084, 3266533278, 47794497, 2454270595]],
  [1, [24724473, 838574162, 2522700496, 473542192, 3964317691]],
  [0xdeadbeef, [320668174, 3759933705, 2578990487, 3402797521, 2313761543]],
];

describe('sfc32', () => {
  it.each(KNOWN)('matches the reference stream for seed %i', (seed, words) => {
    const rng = sfc32(seed);
    expect(words.map(() => rng() * 2 ** 32)).toEqual(words);
  });

  it('draws in [0, 1) with a plausible mean', () => {
    const rng = sfc32(42);
    let sum = 0;
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      const u = rng();
      if (!(u >= 0 && u < 1)) outside++;
      sum += u;
    }
    expect(outside).toBe(0);
    // Standard error of the mean of 1e5 uniforms is ~0.0009.
    expect(Math.abs(sum / 100_000 - 0.5)).toBeLessThan(0.005);
  });

  it('refuses a seed that is not a u32', () => {
    expect(() => sfc32(-1)).toThrow(/"seed" expected integer/);
    expect(() => sfc32(1.5)).toThrow(/"seed"/);
  });
});

describe('randomInt', () => {
  it('stays in range even for an Rng that returns 1', () => {
    expect(randomInt(() => 1, 10)).toBe(9);
    expect(randomInt(() => 0, 10)).toBe(0);
    expect(randomInt(() => 0.999, 10)).toBe(9);
  });
});
