import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type PackWidth, packBits, packedLength, unpackBits } from './bitpack.ts';
import { CodecError } from './errors.ts';

describe('bit packing', () => {
  it('puts the first code in the lowest bits', () => {
    expect([...packBits(Uint8Array.of(1, 2, 3, 0, 2), 2)]).toEqual([0b00_11_10_01, 0b10]);
    expect([...packBits(Uint8Array.of(0xa, 0x5, 0xf), 4)]).toEqual([0x5a, 0x0f]);
  });

  it('round trips codes of every width', () => {
    fc.assert(
      fc.property(fc.constantFrom<PackWidth>(2, 4, 8), fc.uint8Array({ maxLength: 100 }), (bits, raw) => {
        const codes = raw.map((c) => c & ((1 << bits) - 1));
        const packed = packBits(codes, bits);
        expect(packed.length).toBe(packedLength(codes.length, bits));
        expect(unpackBits(packed, bits, codes.length)).toEqual(codes);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses a buffer of the wrong length', () => {
    expect(() => unpackBits(new Uint8Array(2), 2, 9)).toThrow(CodecError);
  });
});
