import type { Client } from './postgres-tx.ts';
import type { RetentionPlan } from './retention.ts';
import { prunable, pruneCeiling, prunedError } from './retention.ts';
import { fromBlob, PRUNED_WEIGHTS, toMetrics } from './rows.ts';
import type { ModelVersion, VersionInfo } from './types.ts';

/** A model_versions row as PostgreSQL returns it (BIGINT as a string; weights only when selected). */
export interface VersionRow {
  task_id: string;
  version: number;
  round_id: number | null;
  created_at: string;
  weights?: Buffer;
  metrics: string | null;
  pruned?: boolean;
}

/** A version with its weights; a pruned one is refused (retention.ts). */
export function versionOf(row: VersionRow): ModelVersion {
  if (row.weights!.byteLength === 0) throw prunedError(row.task_id, row.version);
  return {
    taskId: row.task_id,
    version: row.version,
    roundId: row.round_id,
    createdAt: Number(row.created_at),
    weights: fromBlob(row.weights!),
    metrics: toMetrics(row.metrics),
  };
}

/** A version without its weights, and whether retention dropped them. */
export function versionInfoOf(row: VersionRow): VersionInfo {
  return {
    taskId: row.task_id,
    version: row.version,
    roundId: row.round_id,
    createdAt: Number(row.created_at),
    metrics: toMetrics(row.metrics),
    pruned: row.pruned === true,
  };
}

/**
 * Inside a commit's transaction (which holds the task row's lock): drop the weights `retention`
 * does not keep.
 */
export async function prune(
  c: Client,
  taskId: string,
  newVersion: number,
  retention: RetentionPlan,
): Promise<number[]> {
  const { rows } = await c.query<{ version: number }>(
    'SELECT version FROM model_versions WHERE task_id = $1 AND version <= $2 AND octet_length(weights) > 0 ORDER BY version',
    [taskId, pruneCeiling(newVersion, retention)],
  );
  const versions = prunable(
    rows.map((r) => r.version),
    newVersion,
    retention,
  );
  if (versions.length > 0) {
    await c.query('UPDATE model_versions SET weights = $1 WHERE task_id = $2 AND version = ANY($3::int[])', [
      PRUNED_WEIGHTS,
      taskId,
      versions,
    ]);
  }
  return versions;
}
