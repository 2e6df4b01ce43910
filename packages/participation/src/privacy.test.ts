import { l2norm, noisedNormBound, PollenError, type RoundPrivacy, seededRng } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { cryptoRng, privatize, type RandomSource, uploadPrivacy } from './privacy.ts';

const round: RoundPrivacy = {
  mode: 'distributed',
  clipNorm: 1,
  noiseStd: 0.25,
  clipBit: true,
  delta: 1e-5,
  epsilonBefore: 1.5,
  epsilonAfter: 2,
};

describe('cryptoRng', () => {
  it('draws uniform numbers in [0, 1) from getRandomValues, refilling its block', () => {
    let calls = 0;
    const rng = cryptoRng({
      getRandomValues: <T extends Uint32Array>(array: T): T => {
        calls++;
        return (globalThis as unknown as { crypto: RandomSource }).crypto.getRandomValues(array);
      },
    });
    const draws = Array.from({ length: 20_000 }, rng);
    expect(calls).toBe(3); // 16,384 words a block, two words a draw
    expect(draws.every((u) => u >= 0 && u < 1)).toBe(true);
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    expect(new Set(draws).size).toBe(draws.length);
  });

  it('maps the extreme words to 0 and to just below 1', () => {
    const fill = (value: number) =>
      cryptoRng({
        getRandomValues: <T extends ArrayBufferView | null>(a: T): T => {
          (a as unknown as Uint32Array).fill(value);
          return a;
        },
      });
    expect(fill(0)()).toBe(0);
    expect(fill(0xffffffff)()).toBe(1 - 2 ** -53);
  });
});

describe('privatize', () => {
  it('clips to C, adds the noise, and reports the bit from the norm before clipping', () => {
    const big = new Float32Array(10_000).fill(0.1); // norm 10
    const sent = privatize(big, round, seededRng(1));
    expect(sent).toMatchObject({ clipped: true, clipBit: 0 });
    expect(sent.norm).toBeCloseTo(10, 4);
    // The noise dominates: ||noise|| ~ 0.25 * sqrt(10,000) = 25, within the coordinator's bound.
    expect(l2norm(sent.update)).toBeGreaterThan(20);
    expect(l2norm(sent.update)).toBeLessThan(noisedNormBound(1, 0.25, 10_000));
    const small = privatize(new Float32Array(100).fill(0.05), { ...round, noiseStd: 0 }, seededRng(1));
    expect(small).toMatchObject({ clipped: false, clipBit: 1 });
    expect(Array.from(small.update)).toEqual(Array.from(new Float32Array(100).fill(0.05)));
  });

  it('sends no bit unless asked, and refuses a block it cannot honour', () => {
    expect(privatize(new Float32Array(4), { ...round, clipBit: false }).clipBit).toBeUndefined();
    for (const bad of [
      { clipNorm: 0 },
      { clipNorm: Number.NaN },
      { noiseStd: -1 },
      { noiseStd: Number.POSITIVE_INFINITY },
    ]) {
      expect(() => privatize(new Float32Array(4), { ...round, ...bad })).toThrow(PollenError);
    }
    const nan = Float32Array.of(1, Number.NaN);
    expect(() => privatize(nan, round)).toThrow(/non-finite/);
  });
});

describe('uploadPrivacy', () => {
  it("reports the round's epsilon and the task's total", () => {
    const sent = privatize(new Float32Array(4).fill(1), round, seededRng(2));
    expect(uploadPrivacy(round, sent)).toEqual({
      mode: 'distributed',
      clipNorm: 1,
      clipped: true,
      noiseStd: 0.25,
      epsilon: 0.5,
      epsilonTotal: 2,
      delta: 1e-5,
    });
    const off = {
      ...round,
      mode: 'off' as const,
      noiseStd: 0,
      delta: null,
      epsilonBefore: null,
      epsilonAfter: null,
    };
    expect(uploadPrivacy(off, sent)).toMatchObject({ epsilon: null, epsilonTotal: null, delta: null });
  });
});
