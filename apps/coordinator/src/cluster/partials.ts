import { type PartialSum, PollenError, type WeightedVector } from '@pollen/fl-core';
import type { RoundPartial } from '../rounds/round.ts';
import { getBytes, type Redis } from './redis.ts';

// A node's partial of a round as one binary value in Redis: "PRP1", a uint32 header length, the
// JSON header (counts, client ids, metrics, and the lengths of what follows), zero padding to a
// multiple of 8, then the float64 sums and any float32 vectors. Binary so sums stay exact.

const MAGIC = 0x31505250; // "PRP1", little-endian
/** Partials outlive any round: kept long enough for the holder (or its successor) to read them. */
const PARTIAL_TTL_MS = 10 * 60_000;

interface Header extends Omit<RoundPartial, 'sum' | 'controls' | 'updates'> {
  readonly sum: Omit<PartialSum, 'sum'> | null;
  readonly controls: Omit<PartialSum, 'sum'> | null;
  readonly updates: number[] | null;
  readonly dimension: number;
}

export const partialKey = (taskId: string, roundId: number, nodeId: string): string =>
  `pollen:partial:${taskId}:${roundId}:${nodeId}`;

export function encodePartial(partial: RoundPartial, dimension: number): Buffer {
  const header: Header = {
    ...partial,
    sum: partial.sum ? { weight: partial.sum.weight, count: partial.sum.count } : null,
    controls: partial.controls ? { weight: partial.controls.weight, count: partial.controls.count } : null,
    updates: partial.updates ? partial.updates.map((u) => u.weight) : null,
    dimension,
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const start = Math.ceil((8 + json.length) / 8) * 8;
  const f64 = (partial.sum ? dimension : 0) + (partial.controls ? dimension : 0);
  const f32 = (partial.updates?.length ?? 0) * dimension;
  const out = Buffer.alloc(start + f64 * 8 + f32 * 4);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(json.length, 4);
  json.copy(out, 8);
  let offset = start;
  for (const s of [partial.sum, partial.controls]) {
    if (!s) continue;
    Buffer.from(s.sum.buffer, s.sum.byteOffset, s.sum.byteLength).copy(out, offset);
    offset += s.sum.byteLength;
  }
  for (const u of partial.updates ?? []) {
    Buffer.from(u.vector.buffer, u.vector.byteOffset, u.vector.byteLength).copy(out, offset);
    offset += u.vector.byteLength;
  }
  return out;
}

export function decodePartial(bytes: Buffer, dimension: number): RoundPartial {
  const bad = (why: string): PollenError => new PollenError('BAD_FRAME', `round partial: ${why}`);
  if (bytes.length < 8 || bytes.readUInt32LE(0) !== MAGIC) throw bad('not a partial');
  const length = bytes.readUInt32LE(4);
  if (8 + length > bytes.length) throw bad('truncated header');
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')) as Header;
  if (header.dimension !== dimension) throw bad(`dimension ${header.dimension}, expected ${dimension}`);
  let offset = Math.ceil((8 + length) / 8) * 8;
  const take64 = (): Float64Array => {
    if (offset + dimension * 8 > bytes.length) throw bad('truncated sums');
    const out = new Float64Array(dimension);
    new Uint8Array(out.buffer).set(bytes.subarray(offset, offset + dimension * 8));
    offset += dimension * 8;
    return out;
  };
  const sum = header.sum ? { ...header.sum, sum: take64() } : null;
  const controls = header.controls ? { ...header.controls, sum: take64() } : null;
  const updates: WeightedVector[] | null = header.updates
    ? header.updates.map((weight) => {
        if (offset + dimension * 4 > bytes.length) throw bad('truncated updates');
        const vector = new Float32Array(dimension);
        new Uint8Array(vector.buffer).set(bytes.subarray(offset, offset + dimension * 4));
        offset += dimension * 4;
        return { vector, weight };
      })
    : null;
  const { dimension: _, ...rest } = header;
  return { ...rest, sum, controls, updates };
}

export async function writePartial(
  redis: Redis,
  key: string,
  partial: RoundPartial,
  dimension: number,
): Promise<void> {
  await redis.set(key, encodePartial(partial, dimension), {
    expiration: { type: 'PX', value: PARTIAL_TTL_MS },
  });
}

export async function readPartial(
  redis: Redis,
  key: string,
  dimension: number,
): Promise<RoundPartial | null> {
  const bytes = await getBytes(redis, key);
  return bytes ? decodePartial(bytes, dimension) : null;
}
