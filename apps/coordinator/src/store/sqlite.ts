import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  PollenError,
  type StrategyConfig,
  type StrategyState,
  type TaskSpec,
  type TaskStatus,
  type WeightSpec,
} from '@pollen/fl-core';
import Database from 'better-sqlite3';
import { SqliteClients } from './client-rows.ts';
import { SqliteHeldOut } from './held-out-rows.ts';
import { prunable, pruneCeiling, prunedError, type RetentionPlan } from './retention.ts';
import {
  abandonedEvaluation,
  fromBlob,
  metricsText,
  PRUNED_WEIGHTS,
  type PrivacyRow,
  type StrategyRow,
  type TaskRow,
  toBlob,
  toMetrics,
  toPrivacy,
  toStrategyState,
  toTask,
  weightsChecksum,
  withEvaluation,
} from './rows.ts';
import { migrateSqlite } from './sqlite-schema.ts';
import { encodeStrategyState } from './strategy-state.ts';
import type {
  Evaluated,
  EvaluationRecord,
  Fence,
  HeldOutInfo,
  ModelVersion,
  PrivacyState,
  RoundRecord,
  Store,
  StoredHeldOut,
  StoredPrivacy,
  StoredStrategyState,
  StoredTask,
  VersionInfo,
} from './types.ts';

interface VersionRow {
  task_id: string;
  version: number;
  round_id: number | null;
  created_at: number;
  weights?: Buffer;
  metrics: string | null;
  pruned?: number;
}

/**
 * The embedded default store: one SQLite file in the data directory, WAL mode, every
 * multi-row change in one transaction.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly heldOut: SqliteHeldOut;
  private readonly clients: SqliteClients;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.db = new Database(join(dataDir, 'pollen.sqlite'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    migrateSqlite(this.db);
    this.heldOut = new SqliteHeldOut(this.db);
    this.clients = new SqliteClients(this.db);
  }

  async createTask(
    spec: TaskSpec,
    weightSpec: WeightSpec,
    initial: Float32Array,
    metrics: Evaluated,
  ): Promise<StoredTask> {
    const now = Date.now();
    this.db.transaction(() => {
      if (this.db.prepare('SELECT 1 FROM tasks WHERE id = ?').get(spec.id)) {
        throw new PollenError('INVALID_TASK', `task "${spec.id}" already exists`);
      }
      this.db
        .prepare(
          'INSERT INTO tasks (id, spec, weight_spec, status, created_at, current_version) VALUES (?, ?, ?, ?, ?, 0)',
        )
        .run(spec.id, JSON.stringify(spec), JSON.stringify(weightSpec), 'running', now);
      this.db
        .prepare(
          'INSERT INTO model_versions (task_id, version, round_id, created_at, weights, metrics) VALUES (?, 0, NULL, ?, ?, ?)',
        )
        .run(spec.id, now, toBlob(initial), metricsText(metrics));
    })();
    return (await this.getTask(spec.id))!;
  }

  async getTask(taskId: string): Promise<StoredTask | undefined> {
    const row = this.db.prepare('SELECT * FROM tasks WHERE id = ?').get(taskId) as TaskRow | undefined;
    return row ? toTask(row) : undefined;
  }

  async listTasks(): Promise<StoredTask[]> {
    return (this.db.prepare('SELECT * FROM tasks ORDER BY created_at, id').all() as TaskRow[]).map(toTask);
  }

  async setTaskStatus(taskId: string, status: TaskStatus): Promise<void> {
    const result = this.db.prepare('UPDATE tasks SET status = ? WHERE id = ?').run(status, taskId);
    if (result.changes === 0) throw new PollenError('UNKNOWN_TASK', `no task "${taskId}"`);
  }

  async getVersion(taskId: string, version: number): Promise<ModelVersion | undefined> {
    const row = this.db
      .prepare('SELECT * FROM model_versions WHERE task_id = ? AND version = ?')
      .get(taskId, version) as VersionRow | undefined;
    if (!row) return undefined;
    if (row.weights!.byteLength === 0) throw prunedError(taskId, version);
    return {
      taskId: row.task_id,
      version: row.version,
      roundId: row.round_id,
      createdAt: row.created_at,
      weights: fromBlob(row.weights!),
      metrics: toMetrics(row.metrics),
    };
  }

  async listVersions(taskId: string): Promise<VersionInfo[]> {
    // length() of a BLOB reads its size from the record header, not the weights.
    const rows = this.db
      .prepare(
        'SELECT task_id, version, round_id, created_at, metrics, length(weights) = 0 AS pruned FROM model_versions WHERE task_id = ? ORDER BY version',
      )
      .all(taskId) as VersionRow[];
    return rows.map((row) => ({
      taskId: row.task_id,
      version: row.version,
      roundId: row.round_id,
      createdAt: row.created_at,
      metrics: toMetrics(row.metrics),
      pruned: row.pruned === 1,
    }));
  }

  async openRound(record: RoundRecord, fence?: Fence): Promise<void> {
    this.db.transaction(() => {
      this.checkFence(record.taskId, fence);
      this.db
        .prepare('INSERT INTO rounds (task_id, round_id, status, record) VALUES (?, ?, ?, ?)')
        .run(record.taskId, record.roundId, 'open', JSON.stringify(record));
    })();
  }

  /** Refuse a write under a lower token than the task has seen; remember a higher one. */
  private checkFence(taskId: string, fence: Fence | undefined): void {
    if (!fence) return;
    const row = this.db
      .prepare(
        'INSERT INTO fences (task_id, token) VALUES (?, ?) ON CONFLICT (task_id) DO UPDATE SET token = excluded.token WHERE fences.token <= excluded.token RETURNING token',
      )
      .get(taskId, fence.token);
    if (!row)
      throw new PollenError('LEASE_LOST', `the round lease of "${taskId}" moved past token ${fence.token}`);
  }

  async commitRound(
    record: RoundRecord,
    weights: Float32Array,
    strategy?: { readonly config: StrategyConfig; readonly state: StrategyState },
    privacy?: PrivacyState,
    fence?: Fence,
    retention?: RetentionPlan,
  ): Promise<number[]> {
    if (record.newVersion === null)
      throw new PollenError('INTERNAL', 'a committed round needs a new version');
    const blob = toBlob(weights);
    return this.db.transaction(() => {
      this.checkFence(record.taskId, fence);
      const task = this.db.prepare('SELECT current_version FROM tasks WHERE id = ?').get(record.taskId) as
        | { current_version: number }
        | undefined;
      if (!task) throw new PollenError('UNKNOWN_TASK', `no task "${record.taskId}"`);
      if (task.current_version !== record.newVersion! - 1) {
        throw new PollenError(
          'STALE_MODEL',
          `round ${record.roundId} builds version ${record.newVersion} on ${task.current_version}`,
        );
      }
      this.db
        .prepare(
          'INSERT INTO model_versions (task_id, version, round_id, created_at, weights, metrics) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(
          record.taskId,
          record.newVersion,
          record.roundId,
          record.endedAt ?? Date.now(),
          blob,
          metricsText(record.metrics),
        );
      // The record carries a digest of the committed weights, so any later read can be checked.
      this.updateRound({ ...record, checksum: weightsChecksum(blob) });
      this.db
        .prepare('UPDATE tasks SET current_version = ? WHERE id = ?')
        .run(record.newVersion, record.taskId);
      if (strategy) {
        this.db
          .prepare(
            'INSERT OR REPLACE INTO strategy_state (task_id, version, config, state) VALUES (?, ?, ?, ?)',
          )
          .run(
            record.taskId,
            record.newVersion,
            JSON.stringify(strategy.config),
            encodeStrategyState(strategy.state),
          );
      }
      if (privacy) {
        this.db
          .prepare(
            'INSERT OR REPLACE INTO privacy_ledger (task_id, version, ledger, clip_norm, exhausted) VALUES (?, ?, ?, ?, NULL)',
          )
          .run(
            record.taskId,
            record.newVersion,
            privacy.ledger === null ? null : JSON.stringify(privacy.ledger),
            privacy.clipNorm,
          );
      }
      return retention ? this.prune(record.taskId, record.newVersion!, retention) : [];
    })();
  }

  /** Inside a commit's transaction: drop the weights `retention` does not keep. */
  private prune(taskId: string, newVersion: number, retention: RetentionPlan): number[] {
    const held = this.db
      .prepare(
        'SELECT version FROM model_versions WHERE task_id = ? AND version <= ? AND length(weights) > 0 ORDER BY version',
      )
      .all(taskId, pruneCeiling(newVersion, retention)) as { version: number }[];
    const versions = prunable(
      held.map((r) => r.version),
      newVersion,
      retention,
    );
    const drop = this.db.prepare('UPDATE model_versions SET weights = ? WHERE task_id = ? AND version = ?');
    for (const version of versions) drop.run(PRUNED_WEIGHTS, taskId, version);
    return versions;
  }

  async attachEvaluation(
    taskId: string,
    version: number,
    metrics: Evaluated,
    evaluationMs: number,
  ): Promise<RoundRecord | undefined> {
    return this.db.transaction(() => {
      const row = this.db
        .prepare('SELECT round_id FROM model_versions WHERE task_id = ? AND version = ?')
        .get(taskId, version) as { round_id: number | null } | undefined;
      if (!row) throw new PollenError('NOT_FOUND', `no version ${version} of "${taskId}"`);
      this.db
        .prepare('UPDATE model_versions SET metrics = ? WHERE task_id = ? AND version = ?')
        .run(metricsText(metrics), taskId, version);
      if (row.round_id === null) return undefined;
      const round = this.db
        .prepare('SELECT record FROM rounds WHERE task_id = ? AND round_id = ?')
        .get(taskId, row.round_id) as { record: string } | undefined;
      if (!round) return undefined;
      const updated = withEvaluation(JSON.parse(round.record) as RoundRecord, metrics, evaluationMs);
      this.db
        .prepare('UPDATE rounds SET record = ? WHERE task_id = ? AND round_id = ?')
        .run(JSON.stringify(updated), taskId, row.round_id);
      return updated;
    })();
  }

  async getPrivacy(taskId: string): Promise<StoredPrivacy | undefined> {
    const row = this.db
      .prepare('SELECT version, ledger, clip_norm, exhausted FROM privacy_ledger WHERE task_id = ?')
      .get(taskId) as PrivacyRow | undefined;
    if (!row) return undefined;
    return toPrivacy(row);
  }

  async exhaustBudget(taskId: string, reason: string): Promise<void> {
    this.db.transaction(() => {
      const task = this.db.prepare('SELECT current_version FROM tasks WHERE id = ?').get(taskId) as
        | { current_version: number }
        | undefined;
      if (!task) throw new PollenError('UNKNOWN_TASK', `no task "${taskId}"`);
      this.db.prepare("UPDATE tasks SET status = 'budget-exhausted' WHERE id = ?").run(taskId);
      this.db
        .prepare(
          'INSERT INTO privacy_ledger (task_id, version, ledger, clip_norm, exhausted) VALUES (?, ?, NULL, NULL, ?) ON CONFLICT (task_id) DO UPDATE SET exhausted = excluded.exhausted',
        )
        .run(taskId, task.current_version, reason);
    })();
  }

  async getStrategyState(taskId: string): Promise<StoredStrategyState | undefined> {
    const row = this.db
      .prepare('SELECT version, config, state FROM strategy_state WHERE task_id = ?')
      .get(taskId) as StrategyRow | undefined;
    if (!row) return undefined;
    return toStrategyState(row);
  }

  async abandonRound(record: RoundRecord, fence?: Fence): Promise<void> {
    this.db.transaction(() => {
      this.checkFence(record.taskId, fence);
      this.updateRound(record);
    })();
  }

  private updateRound(record: RoundRecord): void {
    const result = this.db
      .prepare(
        "UPDATE rounds SET status = ?, record = ? WHERE task_id = ? AND round_id = ? AND status = 'open'",
      )
      .run(record.status, JSON.stringify(record), record.taskId, record.roundId);
    if (result.changes !== 1) {
      throw new PollenError('ROUND_CLOSED', `round ${record.roundId} of "${record.taskId}" is not open`);
    }
  }

  async abandonOpenRounds(
    reason: string,
    scope?: { readonly taskId: string; readonly fence: Fence },
  ): Promise<number> {
    return this.db.transaction(() => {
      if (scope) this.checkFence(scope.taskId, scope.fence);
      const rows = (
        scope
          ? this.db
              .prepare("SELECT record FROM rounds WHERE status = 'open' AND task_id = ?")
              .all(scope.taskId)
          : this.db.prepare("SELECT record FROM rounds WHERE status = 'open'").all()
      ) as { record: string }[];
      for (const row of rows) {
        const record = JSON.parse(row.record) as RoundRecord;
        this.updateRound({ ...record, status: 'abandoned', endedAt: Date.now(), reason });
      }
      return rows.length;
    })();
  }

  async listRounds(taskId: string, options: { after?: number; limit?: number } = {}): Promise<RoundRecord[]> {
    const rows = this.db
      .prepare('SELECT record FROM rounds WHERE task_id = ? AND round_id > ? ORDER BY round_id LIMIT ?')
      .all(taskId, options.after ?? -1, options.limit ?? 1000) as { record: string }[];
    return rows.map((row) => JSON.parse(row.record) as RoundRecord);
  }

  async nextRoundId(taskId: string): Promise<number> {
    const row = this.db.prepare('SELECT MAX(round_id) AS last FROM rounds WHERE task_id = ?').get(taskId) as {
      last: number | null;
    };
    return (row.last ?? 0) + 1;
  }

  async saveEvaluation(record: EvaluationRecord, fence?: Fence): Promise<void> {
    this.db.transaction(() => {
      this.checkFence(record.taskId, fence);
      this.db
        .prepare(
          'INSERT INTO evaluation_rounds (task_id, evaluation_id, status, record) VALUES (?, ?, ?, ?) ON CONFLICT (task_id, evaluation_id) DO UPDATE SET status = excluded.status, record = excluded.record',
        )
        .run(record.taskId, record.evaluationId, record.status, JSON.stringify(record));
    })();
  }

  async listEvaluations(taskId: string, options: { latest?: number } = {}): Promise<EvaluationRecord[]> {
    const rows = this.db
      .prepare(
        'SELECT record FROM (SELECT evaluation_id, record FROM evaluation_rounds WHERE task_id = ? ORDER BY evaluation_id DESC LIMIT ?) ORDER BY evaluation_id',
      )
      .all(taskId, options.latest ?? 1000) as { record: string }[];
    return rows.map((row) => JSON.parse(row.record) as EvaluationRecord);
  }

  async nextEvaluationId(taskId: string): Promise<number> {
    const row = this.db
      .prepare('SELECT MAX(evaluation_id) AS last FROM evaluation_rounds WHERE task_id = ?')
      .get(taskId) as { last: number | null };
    return (row.last ?? 0) + 1;
  }

  async abandonOpenEvaluations(reason: string, scope?: { readonly taskId: string }): Promise<number> {
    return this.db.transaction(() => {
      const rows = this.db
        .prepare("SELECT record FROM evaluation_rounds WHERE status = 'open' AND (? IS NULL OR task_id = ?)")
        .all(scope?.taskId ?? null, scope?.taskId ?? null) as { record: string }[];
      const update = this.db.prepare(
        'UPDATE evaluation_rounds SET status = ?, record = ? WHERE task_id = ? AND evaluation_id = ?',
      );
      for (const row of rows) {
        const record = abandonedEvaluation(JSON.parse(row.record) as EvaluationRecord, reason);
        update.run(record.status, JSON.stringify(record), record.taskId, record.evaluationId);
      }
      return rows.length;
    })();
  }

  async shardFor(clientId: string, taskId: string, numShards: number): Promise<number> {
    return this.clients.shardFor(clientId, taskId, numShards);
  }

  async claimClient(clientId: string, secretHash: string): Promise<string> {
    return this.clients.claim(clientId, secretHash);
  }

  async updateTaskSpec(spec: TaskSpec): Promise<void> {
    const result = this.db
      .prepare('UPDATE tasks SET spec = ? WHERE id = ?')
      .run(JSON.stringify(spec), spec.id);
    if (result.changes === 0) throw new PollenError('UNKNOWN_TASK', `no task "${spec.id}"`);
  }

  async putHeldOut(taskId: string, count: number, data: Uint8Array): Promise<HeldOutInfo> {
    return this.heldOut.put(taskId, count, data);
  }

  async getHeldOutInfo(taskId: string): Promise<HeldOutInfo | undefined> {
    return this.heldOut.info(taskId);
  }

  async getHeldOut(taskId: string): Promise<StoredHeldOut | undefined> {
    return this.heldOut.get(taskId);
  }

  async deleteHeldOut(taskId: string): Promise<boolean> {
    return this.heldOut.delete(taskId);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
