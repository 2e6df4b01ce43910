import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_STALENESS, stalenessWeight } from './staleness.ts';

describe('stalenessWeight', () => {
  it('is (1 + tau)^-1/2 by default (known answers)', () => {
    expect(DEFAULT_STALENESS).toEqual({ exponent: 0.5, maxStaleness: 10 });
    expect(stalenessWeight(0)).toBe(1);
    expect(stalenessWeight(1)).toBeCloseTo(Math.SQRT1_2, 15);
    expect(stalenessWeight(3)).toBe(0.5);
    expect(stalenessWeight(8)).toBeCloseTo(1 / 3, 15);
  });

  it('uses the configured exponent and drops updates past tau_max', () => {
    const config = { exponent: 1, maxStaleness: 3 };
    expect(stalenessWeight(3, config)).toBe(0.25);
    expect(stalenessWeight(4, config)).toBe(0);
    expect(stalenessWeight(10, { exponent: 0, maxStaleness: 10 })).toBe(1);
    expect(stalenessWeight(0, { exponent: 2, maxStaleness: 0 })).toBe(1);
    expect(stalenessWeight(1, { exponent: 2, maxStaleness: 0 })).toBe(0);
  });

  it('is in [0, 1] and never increases with tau', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.double({ min: 0, max: 8, noNaN: true }),
        fc.integer({ min: 0, max: 1000 }),
        (tau, exponent, maxStaleness) => {
          const config = { exponent, maxStaleness };
          const w = stalenessWeight(tau, config);
          expect(w).toBeGreaterThanOrEqual(0);
          expect(w).toBeLessThanOrEqual(1);
          expect(stalenessWeight(tau + 1, config)).toBeLessThanOrEqual(w);
        },
      ),
    );
  });

  it('refuses a negative, fractional or NaN tau and a bad config', () => {
    expect(() => stalenessWeight(-1)).toThrow(/"tau" expected integer/);
    expect(() => stalenessWeight(1.5)).toThrow(/"tau"/);
    expect(() => stalenessWeight(Number.NaN)).toThrow(/"tau"/);
    expect(() => stalenessWeight(1, { exponent: -1, maxStaleness: 3 })).toThrow(/"exponent"/);
    expect(() => stalenessWeight(1, { exponent: 1, maxStaleness: 2.5 })).toThrow(/"maxStaleness"/);
  });
});
