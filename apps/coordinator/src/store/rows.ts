import { createHash } from 'node:crypto';
import {
  type MetricValues,
  PollenError,
  type PrivacyLedgerJson,
  type StrategyConfig,
  type TaskSpec,
  type TaskStatus,
  type TreeLedgerJson,
  toPollenError,
  validateTaskSpec,
  type WeightSpec,
} from '@pollen/fl-core';
import { decodeStrategyState } from './strategy-state.ts';
import type {
  EvaluationRecord,
  RoundRecord,
  StoredPrivacy,
  StoredStrategyState,
  StoredTask,
} from './types.ts';

/** A task as both stores keep it: spec and weight layout as JSON text. */
export interface TaskRow {
  id: string;
  spec: string;
  weight_spec: string;
  status: TaskStatus;
  created_at: number;
  current_version: number;
}

/** Each task's spec as last read: the same stored text gives the same spec without checking it again. */
const specs = new Map<string, { readonly text: string; readonly spec: TaskSpec }>();

/**
 * A stored task spec, read back through the task schema with its defaults applied
 * (docs/tasks.md): a store written by an older coordinator, before strategies, privacy,
 * overlapping rounds or compression existed, opens with each missing setting at its default.
 * A spec that no longer validates is refused with INVALID_TASK naming the task and the field.
 */
export function storedSpec(id: string, text: string): TaskSpec {
  const hit = specs.get(id);
  if (hit?.text === text) return hit.spec;
  let spec: TaskSpec;
  try {
    spec = validateTaskSpec(JSON.parse(text));
  } catch (err) {
    throw new PollenError(
      'INVALID_TASK',
      `stored task "${id}" does not validate: ${toPollenError(err).message}`,
    );
  }
  specs.set(id, { text, spec });
  return spec;
}

export function toTask(row: TaskRow): StoredTask {
  return {
    spec: storedSpec(row.id, row.spec),
    weightSpec: JSON.parse(row.weight_spec) as WeightSpec,
    status: row.status,
    createdAt: row.created_at,
    currentVersion: row.current_version,
  };
}

/** Weights as the bytes a BLOB or BYTEA column keeps (little-endian float32, as in memory). */
export function toBlob(weights: Float32Array): Buffer {
  return Buffer.from(weights.buffer, weights.byteOffset, weights.byteLength);
}

export function fromBlob(blob: Buffer): Float32Array {
  // Copy into a fresh, aligned buffer: a driver's Buffer may sit at any offset.
  const out = new Float32Array(blob.byteLength / 4);
  new Uint8Array(out.buffer).set(blob);
  return out;
}

/** The digest a round record keeps of the weights it committed, so any later read can be checked. */
export function weightsChecksum(blob: Buffer): string {
  return createHash('sha256').update(blob).digest('hex');
}

/** A privacy ledger row as both stores keep it: the ledger as JSON text. */
export interface PrivacyRow {
  version: number;
  ledger: string | null;
  clip_norm: number | null;
  exhausted: string | null;
}

export function toPrivacy(row: PrivacyRow): StoredPrivacy {
  return {
    version: row.version,
    ledger: row.ledger === null ? null : (JSON.parse(row.ledger) as PrivacyLedgerJson | TreeLedgerJson),
    clipNorm: row.clip_norm,
    exhausted: row.exhausted,
  };
}

/** A strategy state row as both stores keep it: the config as JSON text, the state encoded. */
export interface StrategyRow {
  version: number;
  config: string;
  state: Buffer;
}

export function toStrategyState(row: StrategyRow): StoredStrategyState {
  return {
    version: row.version,
    config: JSON.parse(row.config) as StrategyConfig,
    state: decodeStrategyState(row.state),
  };
}

/** A version's held-out metrics as both stores keep them: JSON text, or NULL when not evaluated. */
export function metricsText(metrics: MetricValues | null): string | null {
  return metrics === null ? null : JSON.stringify(metrics);
}

export function toMetrics(text: string | null): MetricValues | null {
  return text === null ? null : (JSON.parse(text) as MetricValues);
}

/**
 * What a pruned version's weights column holds: no bytes (the column stays NOT NULL, and no
 * model has zero parameters), so pruning needs no schema change and frees the version's pages.
 */
export const PRUNED_WEIGHTS: Buffer = Buffer.alloc(0);

/** A round record with its version's held-out evaluation attached (it runs after the commit). */
export function withEvaluation(
  record: RoundRecord,
  metrics: MetricValues | null,
  evaluationMs: number,
): RoundRecord {
  return { ...record, metrics, evaluationMs };
}

/** An evaluation round a crash (or a stop) left open, closed as abandoned with why. */
export function abandonedEvaluation(record: EvaluationRecord, reason: string): EvaluationRecord {
  return { ...record, status: 'abandoned', endedAt: record.endedAt ?? Date.now(), reason };
}
