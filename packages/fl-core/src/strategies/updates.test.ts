import { describe, expect, it } from 'vitest';
import { checkUpdates } from './updates.ts';

describe('checkUpdates', () => {
  it('returns the common dimension', () => {
    expect(checkUpdates([new Float32Array(3), new Float32Array(3)])).toBe(3);
  });

  it('refuses an empty batch, ragged vectors and non-finite values, naming the culprit', () => {
    expect(() => checkUpdates([])).toThrow('"updates" expected at least one vector, got 0');
    expect(() => checkUpdates([new Float32Array(3), new Float32Array(2)])).toThrow(
      '"updates[1]" expected 3 values, got 2',
    );
    expect(() => checkUpdates([Float32Array.of(0, Number.NEGATIVE_INFINITY)])).toThrow(
      '"updates[0]" has a non-finite value at index 1',
    );
  });
});
