import type { FrozenBaseRef } from '@pollen/fl-core';
import { BASE_CHECKSUM_HEADER, basePath, checkBase, type FrozenBase } from '@pollen/participation';
import { loadBase, saveBase } from './storage.ts';

/**
 * A fine-tuning task's frozen base for a round (docs/design.md, "Fine-tuning"): the one kept in
 * IndexedDB under the checksum the round names (with null, the one last kept for the task),
 * else downloaded from the coordinator at `server`, its SHA-256 checked (Web Crypto), and kept.
 */
export async function frozenBaseFor(
  server: string,
  taskId: string,
  ref: FrozenBaseRef | null,
): Promise<FrozenBase> {
  const kept = await loadBase(taskId, ref?.checksum ?? null);
  if (kept) return checkBase(kept.frame, kept.checksum);
  const res = await fetch(`${server}${basePath(taskId)}`);
  if (!res.ok) throw new Error(`the frozen base of task "${taskId}" is not available (${res.status})`);
  const frame = new Uint8Array(await res.arrayBuffer());
  const base = await checkBase(frame, ref?.checksum ?? res.headers.get(BASE_CHECKSUM_HEADER));
  await saveBase(taskId, base.checksum, frame);
  return base;
}
