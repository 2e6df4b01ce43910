/**
 * The share of time local training may keep the CPU busy (docs/tasks.md, `training.cpuShare`):
 * the task caps it, the visitor may lower it. Training runs in slices with pauses (@pollen/ml's
 * pace.ts), so a phone does not heat up.
 */

/** Check a CPU share from a host page or the visitor: a number in (0, 1]. */
export function checkCpuShare(share: unknown): number {
  if (typeof share !== 'number' || !Number.isFinite(share) || share <= 0 || share > 1) {
    throw new RangeError(`"cpuShare" expected a number in (0, 1], got ${String(share)}`);
  }
  return share;
}

/** The share training uses: the visitor's, never above the task's cap. */
export function effectiveCpuShare(visitor: number, cap: number): number {
  return Math.min(visitor, cap);
}
