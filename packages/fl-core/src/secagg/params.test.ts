import { describe, expect, it } from 'vitest';
import { defaultSecAggNeighbours, defaultSecAggThreshold, secAggParams } from './params.ts';

const seed = new Uint8Array(32);

describe('secAggParams', () => {
  it('defaults k to 2 ceil(1.5 log2 n), capped at n - 1, and t to a third of k', () => {
    expect([3, 4, 8, 10, 50, 100, 200, 500, 1000].map(defaultSecAggNeighbours)).toEqual([
      2, 3, 7, 9, 18, 20, 24, 28, 30,
    ]);
    expect([2, 3, 8, 9, 18, 24, 30].map(defaultSecAggThreshold)).toEqual([2, 2, 3, 3, 6, 8, 10]);
    expect(secAggParams({ n: 200, d: 10, seed })).toMatchObject({ n: 200, d: 10, k: 24, threshold: 8 });
  });

  it('takes k and t when given and copies the seed', () => {
    const input = { n: 50, d: 4, seed: new Uint8Array(32), k: 20, threshold: 4 };
    const params = secAggParams(input);
    expect(params).toMatchObject({ k: 20, threshold: 4 });
    input.seed[0] = 1;
    expect(params.seed[0]).toBe(0);
  });

  it.each([
    [{ n: 2, d: 1, seed }, /"n"/],
    [{ n: 10, d: 0, seed }, /"d"/],
    [{ n: 10, d: 1, seed: new Uint8Array(16) }, /"seed"/],
    [{ n: 10, d: 1, seed, k: 5 }, /even/],
    [{ n: 10, d: 1, seed, k: 10 }, /"k"/],
    [{ n: 10, d: 1, seed, k: 4, threshold: 5 }, /"threshold"/],
    [{ n: 10, d: 1, seed, threshold: 1 }, /"threshold"/],
  ])('refuses %o', (input, message) => {
    expect(() => secAggParams(input)).toThrow(message);
  });
});
