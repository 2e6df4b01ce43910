import { createHash } from 'node:crypto';
import {
  type MetricValues,
  type PrivacyLedgerJson,
  type RoundSpec,
  type StrategyConfig,
  type TaskSpec,
  type TaskStatus,
  type TreeLedgerJson,
  validateStrategyConfig,
  type WeightSpec,
} from '@pollen/fl-core';
import { decodeStrategyState } from './strategy-state.ts';
import type { RoundRecord, StoredPrivacy, StoredStrategyState, StoredTask } from './types.ts';

/** A task as both stores keep it: spec and weight layout as JSON text. */
export interface TaskRow {
  id: string;
  spec: string;
  weight_spec: string;
  status: TaskStatus;
  created_at: number;
  current_version: number;
}

const SYNC_ONE_AT_A_TIME = { mode: 'sync', maxInFlight: 1, bufferSize: 0, concurrency: 0 } as const;

export function toTask(row: TaskRow): StoredTask {
  const spec = JSON.parse(row.spec) as TaskSpec;
  return {
    // Tasks stored before strategies existed ran FedAvg; before privacy, without it.
    spec: {
      ...spec,
      strategy: spec.strategy ?? validateStrategyConfig(undefined),
      privacy: spec.privacy ?? { mode: 'off' },
      // Before overlapping and buffered rounds, one synchronous round at a time.
      rounds: { ...SYNC_ONE_AT_A_TIME, ...(spec.rounds as Partial<RoundSpec>) } as RoundSpec,
    },
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
