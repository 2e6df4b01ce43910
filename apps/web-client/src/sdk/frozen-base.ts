import type { FrozenBaseRef } from '@pollen/fl-core';
import { checkBase, downloadBase, type FrozenBase } from '@pollen/participation';
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
  const base = await downloadBase(server, taskId, ref?.checksum ?? null);
  await saveBase(taskId, base.checksum, base.frame);
  return base;
}
