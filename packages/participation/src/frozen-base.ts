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

/** SHA-256 of some bytes, lower-case hex, with Web Crypto (browsers, workers, Node's globalThis.crypto). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const { subtle } = (
    globalThis as unknown as {
      crypto: { subtle: { digest(algorithm: string, data: Uint8Array): Promise<ArrayBuffer> } };
    }
  ).crypto;
  const hash = new Uint8Array(await subtle.digest('SHA-256', bytes));
  return Array.from(hash, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Check a downloaded base: its SHA-256 must be `expected` (the round start's, else the one the
 * response named) and it must decode. BAD_FRAME otherwise.
 */
export async function checkBase(frame: Uint8Array, expected: string | null): Promise<FrozenBase> {
  const checksum = await sha256Hex(frame);
  if (expected !== null && checksum !== expected) {
    throw new PollenError('BAD_FRAME', `the frozen base has SHA-256 ${checksum}, expected ${expected}`);
  }
  const base = { checksum, frame };
  baseVector(base);
  return base;
}

/**
 * Download a task's frozen base from the coordinator at `server` and check it against
 * `expected` (null: the checksum the response names). NOT_FOUND when it is not served.
 */
export async function downloadBase(
  server: string,
  taskId: string,
  expected: string | null,
): Promise<FrozenBase> {
  // The platform's fetch (browsers, workers, Node 20); this package types no DOM.
  const platform = globalThis as unknown as {
    fetch(url: string): Promise<{
      ok: boolean;
      status: number;
      headers: { get(name: string): string | null };
      arrayBuffer(): Promise<ArrayBuffer>;
    }>;
  };
  const res = await platform.fetch(`${server}${basePath(taskId)}`);
  if (!res.ok) {
    throw new PollenError(
      'NOT_FOUND',
      `the frozen base of task "${taskId}" is not available (${res.status})`,
    );
  }
  const frame = new Uint8Array(await res.arrayBuffer());
  return checkBase(frame, expected ?? res.headers.get(BASE_CHECKSUM_HEADER));
}

/** The base's values, in the order of the model's frozen weights. BAD_FRAME when it is not a dense frame. */
export function baseVector(base: FrozenBase): Float32Array {
  return decodeDense(base.frame).vector;
}
