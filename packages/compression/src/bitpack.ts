import { CodecError } from './errors.ts';

/**
 * Packing of small unsigned codes (2, 4 or 8 bits) into bytes, least significant bits first:
 * with 2 bits, code 0 sits in bits 0-1 of byte 0, code 1 in bits 2-3, and so on. Widths
 * that divide 8 keep every code inside one byte. Unused bits of the last byte are zero.
 */

/** Bit widths a code may have. */
export type PackWidth = 2 | 4 | 8;

/** Bytes needed for `count` codes of `bits` bits. */
export function packedLength(count: number, bits: PackWidth): number {
  return Math.ceil((count * bits) / 8);
}

/** Pack codes (each below 2^bits; higher bits are dropped) into bytes. */
export function packBits(codes: Uint8Array, bits: PackWidth): Uint8Array {
  if (bits === 8) return codes.slice();
  const out = new Uint8Array(packedLength(codes.length, bits));
  const perByte = 8 / bits;
  const mask = (1 << bits) - 1;
  for (let j = 0; j < codes.length; j++) {
    const byte = (j / perByte) | 0;
    out[byte] = out[byte]! | ((codes[j]! & mask) << ((j % perByte) * bits));
  }
  return out;
}

/** Unpack `count` codes of `bits` bits; refuses a buffer of the wrong length. */
export function unpackBits(packed: Uint8Array, bits: PackWidth, count: number): Uint8Array {
  if (packed.length !== packedLength(count, bits)) {
    throw new CodecError(
      'BAD_FRAME',
      `${count} codes of ${bits} bits need ${packedLength(count, bits)} bytes, got ${packed.length}`,
    );
  }
  if (bits === 8) return packed.slice();
  const out = new Uint8Array(count);
  const perByte = 8 / bits;
  const mask = (1 << bits) - 1;
  for (let j = 0; j < count; j++) {
    out[j] = (packed[(j / perByte) | 0]! >>> ((j % perByte) * bits)) & mask;
  }
  return out;
}
