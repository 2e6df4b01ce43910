import { PollenError } from '@pollen/fl-core';

/**
 * Which versions' weights a task keeps (docs/operating.md, "Retention"): the last
 * `keepLast` versions and every `keepEvery`-th one (version 0 among them); 0 keeps no
 * checkpoints beyond the last ones. Round records and their checksums are kept forever
 * whatever the policy; only the weights of the other versions are dropped.
 */
export interface RetentionPolicy {
  readonly keepLast: number;
  readonly keepEvery: number;
}

/** What a commit prunes with: the policy and the versions something still needs. */
export interface RetentionPlan extends RetentionPolicy {
  /** Versions that must keep their weights whatever the policy: rounds in flight, exports. */
  readonly protect: readonly number[];
}

/** N = 10 and M = 100: at d = 5M (20 MB a version) about 200 MB plus 20 MB per 100 rounds. */
export const DEFAULT_RETENTION: RetentionPolicy = { keepLast: 10, keepEvery: 100 };

/** The highest version a commit of `newVersion` may prune: everything above it is among the last ones. */
export function pruneCeiling(newVersion: number, policy: RetentionPolicy): number {
  return newVersion - policy.keepLast;
}

/**
 * Of `held` (versions that still have their weights), the ones a commit of `newVersion`
 * drops: older than the last `keepLast`, not a multiple of `keepEvery`, not protected.
 */
export function prunable(held: readonly number[], newVersion: number, plan: RetentionPlan): number[] {
  if (!Number.isInteger(newVersion) || newVersion < 0) {
    throw new PollenError('INTERNAL', `"newVersion" expected a version, got ${newVersion}`);
  }
  const ceiling = pruneCeiling(newVersion, plan);
  const keep = new Set(plan.protect);
  return held.filter(
    (v) => v <= ceiling && !(plan.keepEvery > 0 && v % plan.keepEvery === 0) && !keep.has(v),
  );
}

/** The error a read of a pruned version's weights answers (HTTP 410). */
export function prunedError(taskId: string, version: number): PollenError {
  return new PollenError(
    'VERSION_PRUNED',
    `version ${version} of "${taskId}" was pruned by the retention policy (it keeps the last versions and every M-th); its round record and checksum remain`,
  );
}
