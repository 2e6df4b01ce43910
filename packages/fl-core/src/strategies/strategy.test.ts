import { describe, expect, it } from 'vitest';
import { checkStepInputs, expectDimension, readStateCount, readStateVector } from './strategy.ts';

describe('strategy helpers', () => {
  it('reads a snapshot vector as a private copy', () => {
    const m = Float32Array.of(1, 2);
    const read = readStateVector({ m }, 'm', 2);
    expect(read).toEqual(m);
    expect(read).not.toBe(m);
  });

  it('refuses malformed snapshots', () => {
    expect(() => readStateVector({}, 'm', 2)).toThrow('strategy state "m" expected Float32Array');
    expect(() => readStateVector({ m: 3 }, 'm', 2)).toThrow(/expected Float32Array/);
    expect(() => readStateVector({ m: Float32Array.of(1, Number.NaN) }, 'm', 2)).toThrow(
      expect.objectContaining({ code: 'NON_FINITE' }),
    );
    expect(readStateCount({ rounds: 4 }, 'rounds')).toBe(4);
    expect(() => readStateCount({ rounds: 1.5 }, 'rounds')).toThrow(/non-negative integer, got 1.5/);
    expect(() => readStateCount({}, 'rounds')).toThrow(/got undefined/);
  });

  it('checks dimensions and step inputs', () => {
    expect(expectDimension(5)).toBe(5);
    expect(() => expectDimension(1.5)).toThrow(/"dimension"/);
    expect(() => checkStepInputs(2, new Float32Array(2), new Float32Array(1))).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH' }),
    );
  });
});
