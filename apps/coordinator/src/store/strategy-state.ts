import { PollenError, type StrategyState } from '@pollen/fl-core';

// A server strategy's state (optimizer moments, SCAFFOLD's c, counters) as one blob:
// "PSS1", a uint32 header length, a JSON header naming the numbers and the vectors with their
// lengths, zero padding to a multiple of 4, then the vectors' float32 values in header order.
// Binary rather than JSON so a 100k-parameter moment vector stays 400 KB and exact.

const MAGIC = 0x31535350; // "PSS1", little-endian

interface Header {
  readonly numbers: Record<string, number>;
  readonly vectors: [string, number][];
}

/** Encode a strategy state for the store. */
export function encodeStrategyState(state: StrategyState): Buffer {
  const numbers: Record<string, number> = {};
  const vectors: [string, Float32Array][] = [];
  for (const [key, value] of Object.entries(state)) {
    if (value instanceof Float32Array) vectors.push([key, value]);
    else numbers[key] = value;
  }
  const header: Header = { numbers, vectors: vectors.map(([k, v]) => [k, v.length]) };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const start = Math.ceil((8 + json.length) / 4) * 4;
  const out = Buffer.alloc(start + vectors.reduce((n, [, v]) => n + v.byteLength, 0));
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(json.length, 4);
  json.copy(out, 8);
  let offset = start;
  for (const [, v] of vectors) {
    out.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), offset);
    offset += v.byteLength;
  }
  return out;
}

/** Decode a blob from `encodeStrategyState`; the strategy's `restore` checks the contents. */
export function decodeStrategyState(blob: Uint8Array): StrategyState {
  const fail = (why: string): never => {
    throw new PollenError('INTERNAL', `stored strategy state is corrupt: ${why}`);
  };
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  if (blob.byteLength < 8 || view.getUint32(0, true) !== MAGIC) fail('bad magic');
  const length = view.getUint32(4, true);
  if (8 + length > blob.byteLength) fail('header runs past the end');
  let header: Header;
  try {
    header = JSON.parse(Buffer.from(blob.subarray(8, 8 + length)).toString('utf8')) as Header;
  } catch {
    return fail('header is not JSON');
  }
  const state: Record<string, Float32Array | number> = { ...header.numbers };
  let offset = Math.ceil((8 + length) / 4) * 4;
  for (const [key, n] of header.vectors) {
    if (!Number.isSafeInteger(n) || n < 0 || offset + n * 4 > blob.byteLength) fail(`vector "${key}"`);
    // Copy into a fresh, aligned buffer: SQLite's Buffer may sit at any offset.
    const v = new Float32Array(n);
    new Uint8Array(v.buffer).set(blob.subarray(offset, offset + n * 4));
    state[key] = v;
    offset += n * 4;
  }
  if (offset !== blob.byteLength) fail('trailing bytes');
  return state;
}
