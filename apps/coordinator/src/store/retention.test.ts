import { PollenError } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETENTION, prunable, prunedError } from './retention.ts';

describe('version retention policy', () => {
  it('drops what is older than the last N, not a multiple of M and not protected', () => {
    const held = Array.from({ length: 13 }, (_, v) => v);
    expect(prunable(held, 12, { keepLast: 3, keepEvery: 5, protect: [2, 7] })).toEqual([1, 3, 4, 6, 8, 9]);
    // M = 0 keeps no checkpoints, version 0 included; N = 1 keeps only the new version.
    expect(prunable(held, 12, { keepLast: 1, keepEvery: 0, protect: [] })).toEqual(held.slice(0, 12));
    // Fewer versions than N: nothing to drop.
    expect(prunable([0, 1, 2], 2, { ...DEFAULT_RETENTION, protect: [] })).toEqual([]);
    expect(prunable([], 0, { keepLast: 1, keepEvery: 0, protect: [] })).toEqual([]);
  });

  it('keeps exactly the last N, every M-th and the protected versions, for every N, M and version', () => {
    for (const keepLast of [1, 2, 10]) {
      for (const keepEvery of [0, 1, 3, 100]) {
        for (let newVersion = 0; newVersion <= 120; newVersion += 7) {
          const held = Array.from({ length: newVersion + 1 }, (_, v) => v);
          const protect = [Math.floor(newVersion / 2)];
          const dropped = new Set(prunable(held, newVersion, { keepLast, keepEvery, protect }));
          for (const v of held) {
            const kept =
              v > newVersion - keepLast || (keepEvery > 0 && v % keepEvery === 0) || protect.includes(v);
            expect(dropped.has(v), `v ${v} of ${newVersion}, N ${keepLast}, M ${keepEvery}`).toBe(!kept);
          }
        }
      }
    }
  });

  it('refuses a version that is not one, and says what a pruned read means', () => {
    for (const bad of [-1, 1.5, Number.NaN]) {
      expect(() => prunable([0], bad, { keepLast: 1, keepEvery: 0, protect: [] })).toThrow(PollenError);
    }
    const err = prunedError('mnist', 7);
    expect(err.code).toBe('VERSION_PRUNED');
    expect(err.message).toBe(
      'version 7 of "mnist" was pruned by the retention policy (it keeps the last versions and every M-th); its round record and checksum remain',
    );
  });
});
