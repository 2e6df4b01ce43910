import { chacha20 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';

/**
 * The two primitives SecAgg+ spends its time in, behind one seam so that each runtime brings
 * its fastest implementation while every party computes the same bytes:
 *
 * - the ChaCha20 keystream (RFC 8439 §2.4 with a zero plaintext), which expands mask seeds;
 * - X25519 (RFC 7748 §5), the key agreement behind pairwise masks and share encryption.
 *
 * `nobleSecAggCrypto` (pure JavaScript, audited @noble) is the default everywhere and what
 * browsers use. The coordinator passes Node's native OpenSSL implementation instead, about 4x
 * faster for ChaCha20 and 30x for X25519; fl-core itself never imports node:*. Any
 * implementation must match these byte for byte: masks of different implementations cancel
 * only if they are the same words.
 */
export interface SecAggCrypto {
  /**
   * Fill `out` with ChaCha20's keystream for `key` (32 bytes) and `nonce` (12 bytes), starting
   * at 64-byte block `counter` (RFC 8439's 32-bit block counter).
   */
  keystream(key: Uint8Array, nonce: Uint8Array, counter: number, out: Uint8Array): void;
  /** X25519(secretKey, publicKey); throws on a public key of small order (all-zero output). */
  x25519(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array;
  /** X25519(secretKey, 9): the public key of `secretKey`. */
  x25519PublicKey(secretKey: Uint8Array): Uint8Array;
}

/** A zero plaintext to encrypt into the keystream, grown on demand and never written. */
let zeros = new Uint8Array(0);

/** The pure-JavaScript implementation (@noble/ciphers, @noble/curves): the default. */
export const nobleSecAggCrypto: SecAggCrypto = {
  keystream(key, nonce, counter, out) {
    if (zeros.length < out.length) zeros = new Uint8Array(out.length);
    chacha20(key, nonce, zeros.subarray(0, out.length), out, counter);
  },
  x25519: (secretKey, publicKey) => x25519.getSharedSecret(secretKey, publicKey),
  x25519PublicKey: (secretKey) => x25519.getPublicKey(secretKey),
};
