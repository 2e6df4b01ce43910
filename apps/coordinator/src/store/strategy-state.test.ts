import { PollenError } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { decodeStrategyState, encodeStrategyState } from './strategy-state.ts';

describe('strategy state blobs', () => {
  it('round-trips numbers and vectors exactly, whatever the buffer offset', () => {
    const state = { rounds: 7, m: Float32Array.of(1.5, -2, 3e-8), v: new Float32Array(5).fill(0.25), e: 0.1 };
    const blob = encodeStrategyState(state);
    expect(decodeStrategyState(blob)).toEqual(state);
    // SQLite hands back Buffers at arbitrary offsets.
    const shifted = new Uint8Array(blob.byteLength + 3);
    shifted.set(blob, 3);
    expect(decodeStrategyState(shifted.subarray(3))).toEqual(state);
    expect(decodeStrategyState(encodeStrategyState({ rounds: 0 }))).toEqual({ rounds: 0 });
  });

  it('refuses a corrupt blob with INTERNAL', () => {
    const blob = encodeStrategyState({ rounds: 1, m: new Float32Array(4) });
    for (const bad of [
      blob.subarray(0, blob.byteLength - 4),
      new Uint8Array(12),
      Buffer.concat([blob, Buffer.alloc(4)]),
    ]) {
      expect(() => decodeStrategyState(bad)).toThrow(PollenError);
    }
  });
});
