import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { PollenError } from '../errors.ts';
import { nobleSecAggCrypto, type SecAggCrypto } from './crypto.ts';
import { type RandomBytes, takeBytes } from './random.ts';

/**
 * Key agreement and authenticated encryption for SecAgg (Bonawitz et al., CCS 2017).
 *
 * Each client holds two X25519 key pairs (RFC 7748): (c_sk, c_pk) to encrypt the shares it
 * routes through the server, and (s_sk, s_pk) to agree on pairwise masks. They must differ:
 * the server may reconstruct s_sk of a client that drops out, and must not then be able to
 * read the shares that client exchanged. Raw X25519 outputs are never used as keys directly;
 * HKDF-SHA256 (RFC 5869) turns them into one key per purpose, salted with the round seed and
 * bound to the pair, so no key survives from one round or one pair to another.
 */

/** Bytes of an X25519 secret or public key. */
export const KEY_BYTES = 32;
/** ChaCha20-Poly1305 tag bytes (RFC 8439). */
export const TAG_BYTES = 16;

/** An X25519 key pair. */
export interface KeyPair {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

const MASK_INFO = utf8ToBytes('pollen/secagg/v1/pairwise-mask');
const SHARE_INFO = utf8ToBytes('pollen/secagg/v1/share-key');
const AEAD_DOMAIN = utf8ToBytes('pollen/secagg/v1/shares');

function checkKey(name: string, key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    throw new PollenError('INVALID_ARGUMENT', `"${name}" expected ${KEY_BYTES} bytes`);
  }
}

function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, false);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A fresh X25519 key pair from 32 random bytes (X25519 clamps them, RFC 7748 §5). */
export function generateKeyPair(randomBytes: RandomBytes, crypto: SecAggCrypto = nobleSecAggCrypto): KeyPair {
  const secretKey = takeBytes(randomBytes, KEY_BYTES).slice();
  return { secretKey, publicKey: crypto.x25519PublicKey(secretKey) };
}

/** The X25519 public key of `secretKey`. */
export function publicKeyOf(secretKey: Uint8Array, crypto: SecAggCrypto = nobleSecAggCrypto): Uint8Array {
  checkKey('secretKey', secretKey);
  return crypto.x25519PublicKey(secretKey);
}

/**
 * X25519(secretKey, publicKey). A public key of small order gives the all-zero output and is
 * refused with INVALID_MESSAGE (RFC 7748 §6.1): it would make the "secret" public.
 */
export function agree(
  secretKey: Uint8Array,
  publicKey: Uint8Array,
  crypto: SecAggCrypto = nobleSecAggCrypto,
): Uint8Array {
  checkKey('secretKey', secretKey);
  checkKey('publicKey', publicKey);
  try {
    return crypto.x25519(secretKey, publicKey);
  } catch {
    throw new PollenError('INVALID_MESSAGE', 'X25519 public key of small order');
  }
}

function derive(
  info: Uint8Array,
  shared: Uint8Array,
  roundSeed: Uint8Array,
  u: number,
  v: number,
): Uint8Array {
  checkKey('shared', shared);
  checkKey('roundSeed', roundSeed);
  // The pair enters in a fixed order so u and v derive the same key.
  const [low, high] = u < v ? [u, v] : [v, u];
  return hkdf(sha256, shared, roundSeed, concat(info, u32(low), u32(high)), KEY_BYTES);
}

/**
 * The pairwise mask seed s_uv = HKDF(X25519(s_sk_u, s_pk_v), salt = round seed,
 * info = label || min(u, v) || max(u, v)); u and v derive the same seed.
 */
export function pairMaskSeed(shared: Uint8Array, roundSeed: Uint8Array, u: number, v: number): Uint8Array {
  return derive(MASK_INFO, shared, roundSeed, u, v);
}

/** The pairwise ChaCha20-Poly1305 key for shares between u and v, from X25519(c_sk_u, c_pk_v). */
export function pairShareKey(shared: Uint8Array, roundSeed: Uint8Array, u: number, v: number): Uint8Array {
  return derive(SHARE_INFO, shared, roundSeed, u, v);
}

/**
 * The key is per pair and per round and each direction sends one message, so the nonce
 * from || to || 0 never repeats under a key; the round seed and both ids are also
 * authenticated, so the server cannot replay a ciphertext to another client or round.
 */
function nonceAndAad(roundSeed: Uint8Array, from: number, to: number): [Uint8Array, Uint8Array] {
  return [concat(u32(from), u32(to), u32(0)), concat(AEAD_DOMAIN, roundSeed, u32(from), u32(to))];
}

/** Encrypt the shares client `from` sends to client `to` (ChaCha20-Poly1305, RFC 8439). */
export function sealShares(
  key: Uint8Array,
  roundSeed: Uint8Array,
  from: number,
  to: number,
  plaintext: Uint8Array,
): Uint8Array {
  checkKey('key', key);
  const [nonce, aad] = nonceAndAad(roundSeed, from, to);
  return chacha20poly1305(key, nonce, aad).encrypt(plaintext);
}

/** Decrypt shares from client `from` to client `to`; INVALID_MESSAGE when they fail to authenticate. */
export function openShares(
  key: Uint8Array,
  roundSeed: Uint8Array,
  from: number,
  to: number,
  ciphertext: Uint8Array,
): Uint8Array {
  checkKey('key', key);
  const [nonce, aad] = nonceAndAad(roundSeed, from, to);
  try {
    return chacha20poly1305(key, nonce, aad).decrypt(ciphertext);
  } catch {
    throw new PollenError('INVALID_MESSAGE', `shares from client ${from} to ${to} failed to authenticate`);
  }
}
