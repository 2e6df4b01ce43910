import { describe, expect, it } from 'vitest';
import { expectInHalfOpen } from './expect.ts';

describe('expectInHalfOpen', () => {
  it('accepts [min, max) and refuses the rest with the given code', () => {
    expect(expectInHalfOpen('beta', 0, 0, 0.5)).toBe(0);
    expect(expectInHalfOpen('beta', 0.49, 0, 0.5)).toBe(0.49);
    expect(() => expectInHalfOpen('beta', 0.5, 0, 0.5)).toThrow(
      '"beta" expected finite number in [0, 0.5), got 0.5',
    );
    expect(() => expectInHalfOpen('beta', -0.1, 0, 0.5, 'INVALID_TASK')).toThrow(
      expect.objectContaining({ code: 'INVALID_TASK' }),
    );
    expect(() => expectInHalfOpen('beta', '0.1', 0, 0.5)).toThrow(
      '"beta" expected finite number in [0, 0.5), got string',
    );
    expect(() => expectInHalfOpen('beta', Number.NaN, 0, 0.5)).toThrow(/got NaN/);
  });
});
