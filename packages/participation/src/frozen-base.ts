import { decodeDense } from '@pollen/compression';
import { PollenError } from '@pollen/fl-core';

/**
 * A fine-tuning task's frozen base (docs/design.md, "Fine-tuning"): the weights outside the
 * round's vector, which never change during the task, so a device downloads them once per
 * checksum (`RoundStartMessage.base`, `GET /api/tasks/:id/base`) and keeps them.
 */
export interface FrozenBase {
  /** SHA-256 of `frame`, lower-case hex. */
  readonly checksum: string;
  /** The base as the coordinator serves it: a dense f32 frame (@pollen/compression). */
  readonly frame: Uint8Array;
}

/** Where a task's frozen base is served, relative to the coordinator's origin. */
export function basePath(taskId: string): string {
  return `/api/tasks/${encodeURIComponent(taskId)}/base`;
}

/** The response header naming the served base's SHA-256. */
export const BASE_CHECKSUM_HEADER = 'x-pollen-base-checksum';

/** SHA-256 of some bytes. */
export type Digest = (bytes: Uint8Array) => Promise<ArrayBuffer>;

/** Web Crypto's SHA-256, as browsers, workers and Node (globalThis.crypto) have it. */
const webDigest: Digest = (bytes) =>
  (
    globalThis as unknown as {
      crypto: { subtle: { digest(algorithm: string, data: Uint8Array): Promise<ArrayBuffer> } };
    }
  ).crypto.subtle.digest('SHA-256', bytes);

/** SHA-256 of some bytes, lower-case hex. */
export async function sha256Hex(bytes: Uint8Array, digest: Digest = webDigest): Promise<string> {
  const hash = new Uint8Array(await digest(bytes));
  return Array.from(hash, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Check a downloaded base: its SHA-256 must be `expected` (the round start's, else the one the
 * response named) and it must decode. BAD_FRAME otherwise.
 */
export async function checkBase(
  frame: Uint8Array,
  expected: string | null,
  digest: Digest = webDigest,
): Promise<FrozenBase> {
  const checksum = await sha256Hex(frame, digest);
  if (expected !== null && checksum !== expected) {
    throw new PollenError('BAD_FRAME', `the frozen base has SHA-256 ${checksum}, expected ${expected}`);
  }
  const base = { checksum, frame };
  baseVector(base);
  return base;
}

/** The base's values, in the order of the model's frozen weights. BAD_FRAME when it is not a dense frame. */
export function baseVector(base: FrozenBase): Float32Array {
  return decodeDense(base.frame).vector;
}
