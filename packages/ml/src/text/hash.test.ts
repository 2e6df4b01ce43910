import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fnv1a32 } from './hash.ts';

describe('FNV-1a 32', () => {
  it('gives the published test vectors', () => {
    // From the FNV reference test suite (draft-eastlake-fnv, test_fnv.c).
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('hashes the UTF-8 bytes and stays an unsigned 32-bit integer', () => {
    // "é" is the two bytes c3 a9: the same as hashing them one by one.
    let h = 0x811c9dc5;
    for (const b of [0xc3, 0xa9]) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    expect(fnv1a32('é')).toBe(h);
    fc.assert(
      fc.property(fc.string(), (s) => {
        const v = fnv1a32(s);
        return Number.isInteger(v) && v >= 0 && v < 2 ** 32 && v === fnv1a32(s);
      }),
    );
  });
});
