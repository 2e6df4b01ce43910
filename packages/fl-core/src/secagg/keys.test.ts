import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import {
  agree,
  generateKeyPair,
  openShares,
  pairMaskSeed,
  pairShareKey,
  publicKeyOf,
  sealShares,
  TAG_BYTES,
} from './keys.ts';
import { chachaRandomBytes } from './random.ts';

// RFC 7748 §6.1.
const alice = {
  secretKey: hexToBytes('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'),
  publicKey: hexToBytes('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a'),
};
const bob = {
  secretKey: hexToBytes('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'),
  publicKey: hexToBytes('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f'),
};
const round = new Uint8Array(32).fill(3);

describe('X25519 key agreement', () => {
  it('matches RFC 7748 §6.1', () => {
    expect(bytesToHex(publicKeyOf(alice.secretKey))).toBe(bytesToHex(alice.publicKey));
    expect(bytesToHex(publicKeyOf(bob.secretKey))).toBe(bytesToHex(bob.publicKey));
    const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
    expect(bytesToHex(agree(alice.secretKey, bob.publicKey))).toBe(shared);
    expect(bytesToHex(agree(bob.secretKey, alice.publicKey))).toBe(shared);
  });

  it('generates key pairs from the injected randomness', () => {
    const a = generateKeyPair(chachaRandomBytes(round));
    expect(generateKeyPair(chachaRandomBytes(round))).toEqual(a);
    expect(a.publicKey).toEqual(publicKeyOf(a.secretKey));
  });

  it('refuses a public key of small order', () => {
    expect(() => agree(alice.secretKey, new Uint8Array(32))).toThrow(
      expect.objectContaining({ code: 'INVALID_MESSAGE' }),
    );
  });
});

describe('pairwise keys (HKDF-SHA256)', () => {
  const shared = agree(alice.secretKey, bob.publicKey);

  it('gives u and v the same seed, separated by purpose, pair and round', () => {
    const seed = pairMaskSeed(shared, round, 4, 9);
    expect(pairMaskSeed(shared, round, 9, 4)).toEqual(seed);
    expect(pairShareKey(shared, round, 4, 9)).not.toEqual(seed);
    expect(pairMaskSeed(shared, round, 4, 10)).not.toEqual(seed);
    expect(pairMaskSeed(shared, new Uint8Array(32), 4, 9)).not.toEqual(seed);
  });
});

describe('share encryption (ChaCha20-Poly1305)', () => {
  const key = pairShareKey(agree(alice.secretKey, bob.publicKey), round, 1, 2);
  const plaintext = Uint8Array.from({ length: 66 }, (_, i) => i);

  it('round-trips and adds a 16-byte tag', () => {
    const ciphertext = sealShares(key, round, 1, 2, plaintext);
    expect(ciphertext).toHaveLength(plaintext.length + TAG_BYTES);
    expect(openShares(key, round, 1, 2, ciphertext)).toEqual(plaintext);
  });

  it('refuses a tampered ciphertext, the other direction, another recipient or round', () => {
    const ciphertext = sealShares(key, round, 1, 2, plaintext);
    const tampered = ciphertext.slice();
    tampered[5] = tampered[5]! ^ 1;
    const refused = expect.objectContaining({ code: 'INVALID_MESSAGE' });
    expect(() => openShares(key, round, 1, 2, tampered)).toThrow(refused);
    expect(() => openShares(key, round, 2, 1, ciphertext)).toThrow(refused);
    expect(() => openShares(key, round, 1, 3, ciphertext)).toThrow(refused);
    expect(() => openShares(key, new Uint8Array(32), 1, 2, ciphertext)).toThrow(refused);
  });
});
