import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { l2norm } from '../vector.ts';
import { clipToNorm } from './clip.ts';

describe('clipToNorm', () => {
  it('scales an update above the clip norm down to it', () => {
    const { clipped, norm, wasClipped } = clipToNorm(Float32Array.from([3, 4]), 1);
    expect(norm).toBe(5);
    expect(wasClipped).toBe(true);
    expect(clipped[0]).toBeCloseTo(0.6, 6);
    expect(clipped[1]).toBeCloseTo(0.8, 6);
  });

  it('leaves an update at or below the clip norm as it is, in a new vector', () => {
    const update = Float32Array.from([3, 4]);
    const result = clipToNorm(update, 5);
    expect(result).toEqual({ clipped: update, norm: 5, wasClipped: false });
    expect(result.clipped).not.toBe(update);
    expect(clipToNorm(new Float32Array(3), 1).clipped).toEqual(new Float32Array(3));
  });

  it('never returns a norm above C, keeps the direction, and never touches its input', () => {
    fc.assert(
      fc.property(
        fc.float32Array({
          minLength: 1,
          maxLength: 300,
          noNaN: true,
          noDefaultInfinity: true,
          min: -1e3,
          max: 1e3,
        }),
        fc.double({ min: 1e-3, max: 1e3, noNaN: true }),
        (update, clipNorm) => {
          const before = update.slice();
          const { clipped, norm } = clipToNorm(update, clipNorm);
          expect(update).toEqual(before);
          expect(l2norm(clipped)).toBeLessThanOrEqual(clipNorm);
          expect(norm).toBe(l2norm(update));
          if (norm > clipNorm) {
            expect(l2norm(clipped)).toBeGreaterThan(clipNorm * (1 - 1e-6));
            const factor = l2norm(clipped) / norm;
            update.forEach((x, i) => {
              expect(Math.abs(clipped[i]! - x * factor)).toBeLessThanOrEqual(
                Math.abs(x * factor) * 1e-6 + 1e-40,
              );
            });
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses a bad clip norm and non-finite updates', () => {
    expect(() => clipToNorm(new Float32Array(2), -1)).toThrow(
      '"clipNorm" expected positive finite number, got -1',
    );
    expect(() => clipToNorm(new Float32Array(2), 0)).toThrow(
      '"clipNorm" expected positive finite number, got 0',
    );
    expect(() => clipToNorm(Float32Array.from([1, Number.NaN]), 1)).toThrow(
      expect.objectContaining({ code: 'NON_FINITE' }),
    );
  });
});
