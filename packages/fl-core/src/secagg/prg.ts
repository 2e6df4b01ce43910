import { utf8ToBytes } from '@noble/hashes/utils.js';
import { PollenError } from '../errors.ts';
import { nobleSecAggCrypto, type SecAggCrypto } from './crypto.ts';

/**
 * The mask generator of SecAgg (Bonawitz et al., CCS 2017: "PRG"): a 32-byte seed expands
 * to d words of the ChaCha20 keystream (RFC 8439), read as little-endian unsigned 32-bit
 * integers, so masks live in Z_(2^32) like the fixed-point inputs and cancel exactly.
 *
 * Seeds are either a client's self-mask seed b_u or a pairwise seed s_uv from HKDF, both
 * uniform and single-purpose, so one fixed nonce separates this use from every other ChaCha20
 * stream in Pollen (shares, ring layout, simulations use other nonces or keys).
 */

/** Bytes of a mask seed. */
export const SEED_BYTES = 32;
/** The nonce of every mask stream (12 bytes). */
export const MASK_NONCE: Uint8Array = utf8ToBytes('pollen-mask\0');
/** Words per keystream chunk: a multiple of 16 (one 64-byte block) so chunks stay on blocks. */
const CHUNK_WORDS = 16_384;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function checkSeed(seed: Uint8Array): void {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES) {
    throw new PollenError('INVALID_ARGUMENT', `mask seed expected ${SEED_BYTES} bytes`);
  }
}

/**
 * Add `sign * PRG(seed)` to `target` in place, mod 2^32. The keystream is produced in 64 KiB
 * chunks, so a 100k-word mask never needs a second 400 KB buffer. `crypto` supplies the
 * keystream (crypto.ts): any implementation gives the same words.
 */
export function addMask(
  target: Uint32Array,
  seed: Uint8Array,
  sign: 1 | -1,
  crypto: SecAggCrypto = nobleSecAggCrypto,
): void {
  checkSeed(seed);
  const d = target.length;
  const bytes = new Uint8Array(Math.min(CHUNK_WORDS, d) * 4);
  const words = new Uint32Array(bytes.buffer);
  const view = new DataView(bytes.buffer);
  for (let start = 0; start < d; start += CHUNK_WORDS) {
    const count = Math.min(CHUNK_WORDS, d - start);
    crypto.keystream(seed, MASK_NONCE, start / 16, bytes.subarray(0, count * 4));
    if (!LITTLE_ENDIAN) {
      for (let i = 0; i < count; i++) words[i] = view.getUint32(i * 4, true);
    }
    // Uint32Array stores ToUint32 of the result: the wrap-around mod 2^32 is free.
    if (sign === 1) {
      for (let i = 0; i < count; i++) target[start + i] = target[start + i]! + words[i]!;
    } else {
      for (let i = 0; i < count; i++) target[start + i] = target[start + i]! - words[i]!;
    }
  }
}

/** PRG(seed) as a fresh vector of `d` words. */
export function expandMask(
  seed: Uint8Array,
  d: number,
  crypto: SecAggCrypto = nobleSecAggCrypto,
): Uint32Array {
  if (!Number.isInteger(d) || d < 0) {
    throw new PollenError('INVALID_ARGUMENT', `"d" expected a non-negative integer, got ${d}`);
  }
  const out = new Uint32Array(d);
  addMask(out, seed, 1, crypto);
  return out;
}
