import { chacha20 } from '@noble/ciphers/chacha.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { PollenError } from '../errors.ts';

/**
 * A source of cryptographically secure random bytes: `randomBytes(n)` returns `n` fresh bytes.
 * The apps pass one built on `crypto.getRandomValues` (noble's `randomBytes` from
 * `@noble/hashes/utils.js` is one); tests and simulations pass `chachaRandomBytes(seed)` so a
 * run can be replayed. Every key and seed of the protocol comes from here, never Math.random.
 */
export type RandomBytes = (length: number) => Uint8Array;

/** Draw `length` bytes and check the source kept its contract: a wrong-sized key is a silent bug. */
export function takeBytes(randomBytes: RandomBytes, length: number): Uint8Array {
  const out = randomBytes(length);
  if (!(out instanceof Uint8Array) || out.length !== length) {
    throw new PollenError('INVALID_ARGUMENT', `"randomBytes" expected to return ${length} bytes`);
  }
  return out;
}

const RANDOM_NONCE = utf8ToBytes('pollen-rand\0');
const MAX_BLOCKS = 2 ** 32;

/**
 * A deterministic byte stream: the ChaCha20 keystream (RFC 8439) under a 32-byte `seed`, read
 * in order. Secure when the seed is 32 secret uniform bytes; with a public seed it is a
 * reproducible generator for simulations and tests, and the ring layout of `graph.ts`.
 * Each call starts on a fresh 64-byte block, so `f(3); f(3)` is not `f(6)`.
 */
export function chachaRandomBytes(seed: Uint8Array, nonce: Uint8Array = RANDOM_NONCE): RandomBytes {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) {
    throw new PollenError('INVALID_ARGUMENT', '"seed" expected 32 bytes');
  }
  if (!(nonce instanceof Uint8Array) || nonce.length !== 12) {
    throw new PollenError('INVALID_ARGUMENT', '"nonce" expected 12 bytes');
  }
  const key = seed.slice();
  let block = 0;
  return (length: number): Uint8Array => {
    if (!Number.isInteger(length) || length < 0) {
      throw new PollenError('INVALID_ARGUMENT', `"length" expected a non-negative integer, got ${length}`);
    }
    const blocks = Math.ceil(length / 64);
    if (block + blocks > MAX_BLOCKS) throw new PollenError('INVALID_ARGUMENT', 'ChaCha20 stream exhausted');
    const out = chacha20(key, nonce, new Uint8Array(blocks * 64), undefined, block);
    block += blocks;
    return out.length === length ? out : out.slice(0, length);
  };
}
