import { CodecError } from './errors.ts';
import { expectInt, expectSortedIndices } from './validate.ts';

/**
 * Sparse index encoding: strictly increasing indices as gaps (the first index itself, then
 * each index minus the previous one minus 1), each gap an unsigned LEB128 varint (7 bits per
 * byte, low groups first, high bit set on every byte but the last; as in Protocol Buffers
 * and WebAssembly). Top-k at density p has gaps near 1/p, so at 1% an index costs about one
 * byte instead of four. Only canonical encodings are accepted (no redundant trailing zero
 * groups, at most 5 bytes, value below 2^32), so each index list has exactly one encoding.
 */

/** Bytes the LEB128 varint of `value` (an integer in [0, 2^32)) takes: 1 to 5. */
export function varintLength(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
}

/** Write the varint of `value` at `offset`; returns the offset after it. The caller sizes `out`. */
export function writeVarint(out: Uint8Array, offset: number, value: number): number {
  let v = value;
  let o = offset;
  while (v >= 0x80) {
    out[o++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  out[o++] = v;
  return o;
}

/** Bytes `encodeSortedIndices` will produce for these (sorted) indices. */
export function sortedIndicesLength(indices: Uint32Array): number {
  let total = 0;
  let previous = -1;
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j]!;
    total += varintLength(i - previous - 1);
    previous = i;
  }
  return total;
}

/** Encode strictly increasing indices (each below `dimension`, when given) as gap varints. */
export function encodeSortedIndices(indices: Uint32Array, dimension = 0x100000000): Uint8Array {
  expectSortedIndices('indices', indices, dimension);
  const out = new Uint8Array(sortedIndicesLength(indices));
  writeSortedIndices(out, 0, indices);
  return out;
}

/** Write already-validated sorted indices as gap varints at `offset`; returns the end offset. */
export function writeSortedIndices(out: Uint8Array, offset: number, indices: Uint32Array): number {
  let o = offset;
  let previous = -1;
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j]!;
    o = writeVarint(out, o, i - previous - 1);
    previous = i;
  }
  return o;
}

/**
 * Decode exactly `count` indices from all of `bytes`, refusing with CodecError 'BAD_FRAME'
 * an encoding that is truncated, has bytes left over, is not canonical or reaches an index
 * at or past `dimension`. Lengths are checked before the output is allocated: a count above
 * the dimension or the byte length (each varint takes at least one byte) is refused first.
 */
export function decodeSortedIndices(bytes: Uint8Array, count: number, dimension: number): Uint32Array {
  if (!(bytes instanceof Uint8Array)) throw new CodecError('BAD_FRAME', 'index list expected bytes');
  expectInt('dimension', dimension, 0, 0x100000000);
  expectInt('count', count, 0, 0xffffffff);
  if (count > dimension || count > bytes.length || bytes.length > 5 * count) {
    throw new CodecError(
      'BAD_FRAME',
      `${bytes.length} bytes cannot hold ${count} indices below ${dimension}`,
    );
  }
  const out = new Uint32Array(count);
  let o = 0;
  let previous = -1;
  for (let j = 0; j < count; j++) {
    let gap = 0;
    let factor = 1;
    for (let n = 0; ; n++) {
      if (o >= bytes.length) throw new CodecError('BAD_FRAME', `index list truncated at index ${j}`);
      const b = bytes[o++]!;
      gap += (b & 0x7f) * factor;
      if (b < 0x80) {
        if (n > 0 && b === 0) throw new CodecError('BAD_FRAME', `index ${j} has a non-canonical varint`);
        if (n === 4 && b > 0x0f) throw new CodecError('BAD_FRAME', `index ${j} does not fit 32 bits`);
        break;
      }
      if (n === 4) throw new CodecError('BAD_FRAME', `index ${j} has a varint longer than 5 bytes`);
      factor *= 128;
    }
    const index = previous + 1 + gap;
    if (index >= dimension) {
      throw new CodecError('BAD_FRAME', `index ${index} at position ${j} is not below ${dimension}`);
    }
    out[j] = index;
    previous = index;
  }
  if (o !== bytes.length) {
    throw new CodecError('BAD_FRAME', `index list has ${bytes.length - o} bytes left over`);
  }
  return out;
}
