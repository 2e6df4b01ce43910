import { bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { chachaRandomBytes, takeBytes } from './random.ts';

describe('chachaRandomBytes', () => {
  it('is the ChaCha20 keystream (RFC 8439 A.1 test vector 1: zero key, zero nonce, block 0)', () => {
    const stream = chachaRandomBytes(new Uint8Array(32), new Uint8Array(12));
    expect(bytesToHex(stream(64))).toBe(
      '76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7' +
        'da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586',
    );
  });

  it('replays from the same seed and moves on between calls', () => {
    const seed = new Uint8Array(32).fill(7);
    const a = chachaRandomBytes(seed);
    const b = chachaRandomBytes(seed);
    const first = a(40);
    expect(b(40)).toEqual(first);
    expect(a(40)).not.toEqual(first);
    expect(chachaRandomBytes(new Uint8Array(32).fill(8))(40)).not.toEqual(first);
    expect(a(0)).toHaveLength(0);
  });

  it('refuses a seed or nonce of the wrong size', () => {
    expect(() => chachaRandomBytes(new Uint8Array(31))).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => chachaRandomBytes(new Uint8Array(32), new Uint8Array(8))).toThrow(/nonce/);
  });
});

describe('takeBytes', () => {
  it('passes through a well-behaved source and refuses a short one', () => {
    expect(takeBytes((n) => new Uint8Array(n), 5)).toHaveLength(5);
    expect(() => takeBytes(() => new Uint8Array(3), 5)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});
