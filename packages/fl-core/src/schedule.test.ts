import { describe, expect, it } from 'vitest';
import { lrAt, validateLrSchedule } from './schedule.ts';

describe('lrAt', () => {
  it('exponential: 0.1 * 0.99^t', () => {
    const s = { kind: 'exponential', decay: 0.99 } as const;
    expect(lrAt(0.1, s, 0)).toBe(0.1);
    expect(lrAt(0.1, s, 1)).toBeCloseTo(0.099, 12);
    expect(lrAt(0.1, s, 10)).toBeCloseTo(0.1 * 0.99 ** 10, 12);
    expect(lrAt(0.1, s, 100)).toBeCloseTo(0.036603234, 8);
  });

  it('step: base * factor^floor(t / every)', () => {
    const s = { kind: 'step', every: 10, factor: 0.5 } as const;
    expect(lrAt(0.2, s, 0)).toBe(0.2);
    expect(lrAt(0.2, s, 9)).toBe(0.2);
    expect(lrAt(0.2, s, 10)).toBe(0.1);
    expect(lrAt(0.2, s, 25)).toBe(0.05);
  });

  it('cosine: from base at t = 0 through the midpoint to minLr at t = rounds, then flat', () => {
    const s = { kind: 'cosine', rounds: 100, minLr: 0.01 } as const;
    expect(lrAt(0.1, s, 0)).toBeCloseTo(0.1, 12);
    expect(lrAt(0.1, s, 50)).toBeCloseTo(0.055, 12);
    expect(lrAt(0.1, s, 25)).toBeCloseTo(0.01 + (0.09 * (1 + Math.SQRT1_2)) / 2, 12);
    expect(lrAt(0.1, s, 100)).toBeCloseTo(0.01, 12);
    expect(lrAt(0.1, s, 500)).toBeCloseTo(0.01, 12);
    expect(lrAt(0.1, { kind: 'cosine', rounds: 4 }, 4)).toBeCloseTo(0, 12);
  });

  it('constant, and negative or fractional rounds read as whole rounds from 0', () => {
    expect(lrAt(0.3, { kind: 'constant' }, 1000)).toBe(0.3);
    expect(lrAt(0.1, { kind: 'exponential', decay: 0.5 }, -3)).toBe(0.1);
    expect(lrAt(0.1, { kind: 'exponential', decay: 0.5 }, 1.7)).toBe(0.05);
  });
});

describe('validateLrSchedule', () => {
  it('defaults to constant and names the offending field', () => {
    expect(validateLrSchedule('training.schedule', undefined, 0.1)).toEqual({ kind: 'constant' });
    expect(() => validateLrSchedule('training.schedule', { kind: 'exponential', decay: 0 }, 0.1)).toThrow(
      /training.schedule.decay/,
    );
    expect(() =>
      validateLrSchedule('training.schedule', { kind: 'step', every: 0, factor: 0.5 }, 0.1),
    ).toThrow(/training.schedule.every/);
    expect(() => validateLrSchedule('training.schedule', { kind: 'linear' }, 0.1)).toThrow(
      /training.schedule/,
    );
    expect(() => validateLrSchedule('s', { kind: 'cosine', rounds: 10, minLr: 0.5 }, 0.1)).toThrow(
      /"s.minLr" \(0.5\) must not exceed/,
    );
  });
});
