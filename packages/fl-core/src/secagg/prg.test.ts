import { chacha20 } from '@noble/ciphers/chacha.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { addMask, expandMask } from './prg.ts';

const seed = Uint8Array.from({ length: 32 }, (_, i) => i);

describe('mask generator (ChaCha20 keystream as words mod 2^32)', () => {
  it('is the ChaCha20 keystream under the mask nonce, read little-endian', () => {
    const stream = chacha20(seed, utf8ToBytes('pollen-mask\0'), new Uint8Array(16));
    const view = new DataView(stream.buffer);
    expect(Array.from(expandMask(seed, 4))).toEqual([0, 4, 8, 12].map((at) => view.getUint32(at, true)));
  });

  it('is deterministic and consistent across its 16,384-word chunks', () => {
    const long = expandMask(seed, 40_000);
    expect(expandMask(seed, 40_000)).toEqual(long);
    expect(expandMask(seed, 16_385)).toEqual(long.subarray(0, 16_385));
    expect(expandMask(seed, 7)).toEqual(long.subarray(0, 7));
    const other = new Uint8Array(seed);
    other[0] = 99;
    expect(expandMask(other, 7)).not.toEqual(long.subarray(0, 7));
  });

  it('adds and subtracts mod 2^32, so a mask and its negation cancel exactly', () => {
    const x = Uint32Array.from([0, 1, 0xffffffff, 0x80000000, 12345]);
    const y = x.slice();
    addMask(y, seed, 1);
    const mask = expandMask(seed, x.length);
    for (let i = 0; i < x.length; i++) expect(y[i]).toBe((x[i]! + mask[i]!) % 2 ** 32);
    addMask(y, seed, -1);
    expect(y).toEqual(x);
  });

  it('refuses a seed that is not 32 bytes', () => {
    expect(() => expandMask(new Uint8Array(16), 4)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});
