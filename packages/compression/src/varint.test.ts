import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodecError } from './errors.ts';
import { decodeSortedIndices, encodeSortedIndices, varintLength, writeVarint } from './varint.ts';

function varint(value: number): number[] {
  const out = new Uint8Array(5);
  return [...out.subarray(0, writeVarint(out, 0, value))];
}

const sortedIndices = fc
  .uniqueArray(fc.integer({ min: 0, max: 0xfffffffe }), { maxLength: 60 })
  .map((a) => Uint32Array.from(a.sort((x, y) => x - y)));

describe('LEB128 varints', () => {
  it('matches the Protocol Buffers examples', () => {
    expect(varint(1)).toEqual([0x01]);
    expect(varint(150)).toEqual([0x96, 0x01]);
    expect(varint(300)).toEqual([0xac, 0x02]);
    expect(varint(0xffffffff)).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
  });

  it('knows its lengths', () => {
    for (const [v, n] of [
      [0, 1],
      [127, 1],
      [128, 2],
      [16383, 2],
      [16384, 3],
      [2 ** 28 - 1, 4],
      [2 ** 28, 5],
    ]) {
      expect(varintLength(v!)).toBe(n);
      expect(varint(v!).length).toBe(n);
    }
  });
});

describe('sorted index encoding', () => {
  it('stores gaps minus one', () => {
    expect([...encodeSortedIndices(Uint32Array.of(0, 1, 2, 130))]).toEqual([0, 0, 0, 0x7f]);
    expect([...encodeSortedIndices(Uint32Array.of(5, 300))]).toEqual([5, 0xa6, 0x02]);
  });

  it('round trips any strictly increasing u32 list', () => {
    fc.assert(
      fc.property(sortedIndices, (indices) => {
        const bytes = encodeSortedIndices(indices);
        expect(decodeSortedIndices(bytes, indices.length, 0xffffffff)).toEqual(indices);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses unsorted or out-of-range indices on the way in', () => {
    expect(() => encodeSortedIndices(Uint32Array.of(3, 3))).toThrow(/strictly increasing/);
    expect(() => encodeSortedIndices(Uint32Array.of(1, 9), 9)).toThrow(CodecError);
  });

  it.each([
    ['truncated', [0x80], 1, 10],
    ['left over bytes', [1, 1], 1, 10],
    ['non-canonical', [0x81, 0x00], 1, 1000],
    ['longer than 5 bytes', [0x80, 0x80, 0x80, 0x80, 0x80, 0x01], 1, 2 ** 32],
    ['above 32 bits', [0xff, 0xff, 0xff, 0xff, 0x1f], 1, 2 ** 32],
    ['past the dimension', [9], 1, 9],
    ['a later index past the dimension', [0, 8], 2, 9],
    ['more indices than bytes', [1], 2, 10],
    ['more indices than the dimension', [0, 0, 0], 3, 2],
  ])('refuses an index list %s', (_, bytes, count, dimension) => {
    const err = (() => {
      try {
        decodeSortedIndices(Uint8Array.from(bytes), count, dimension);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(CodecError);
    expect((err as CodecError).code).toBe('BAD_FRAME');
  });
});
