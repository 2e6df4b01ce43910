import {
  PollenError,
  type StrategyConfig,
  type StrategyState,
  type TaskSpec,
  type TaskStatus,
  type WeightSpec,
} from '@pollen/fl-core';
import pg from 'pg';
import { PostgresClients } from './client-rows.ts';
import { PostgresHeldOut } from './held-out-rows.ts';
import { type Client, checkFence, migrate, transaction } from './postgres-tx.ts';
import { prune, type VersionRow, versionInfoOf, versionOf } from './postgres-versions.ts';
import type { RetentionPlan } from './retention.ts';
import {
  abandonedEvaluation,
  metricsText,
  type PrivacyRow,
  type StrategyRow,
  type TaskRow,
  toBlob,
  toPrivacy,
  toStrategyState,
  toTask,
  weightsChecksum,
  withEvaluation,
} from './rows.ts';
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

interface PgTaskRow extends Omit<TaskRow, 'created_at'> {
  created_at: string;
}

const taskOf = (row: PgTaskRow): StoredTask => toTask({ ...row, created_at: Number(row.created_at) });

/**
 * The shared store of a cluster: PostgreSQL through a connection pool. The same semantics as
 * the embedded SQLite store (the contract suite runs both): every multi-row change in one
 * transaction, versions with no gap or duplicate, and round writes checked against the
 * task's fencing token so only the current lease holder can open, commit or abandon a round.
 */
export class PostgresStore implements Store {
  private readonly pool: pg.Pool;
  private readonly heldOut: PostgresHeldOut;
  private readonly clients: PostgresClients;

  private constructor(pool: pg.Pool) {
    this.pool = pool;
    this.heldOut = new PostgresHeldOut(pool);
    this.clients = new PostgresClients(pool);
  }

  /** Connect and bring the schema up to date; a bad URL or an unreachable server fails here. */
  static async connect(url: string, options: { max?: number } = {}): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString: url, max: options.max ?? 8 });
    // An idle client whose server went away emits 'error'; the next query reconnects.
    pool.on('error', () => {});
    const store = new PostgresStore(pool);
    try {
      await migrate(pool);
    } catch (err) {
      await pool.end();
      throw err;
    }
    return store;
  }

  private tx<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    return transaction(this.pool, fn);
  }

  async createTask(
    spec: TaskSpec,
    weightSpec: WeightSpec,
    initial: Float32Array,
    metrics: Evaluated,
  ): Promise<StoredTask> {
    const now = Date.now();
    await this.tx(async (c) => {
      const inserted = await c.query(
        "INSERT INTO tasks (id, spec, weight_spec, status, created_at, current_version) VALUES ($1, $2, $3, 'running', $4, 0) ON CONFLICT (id) DO NOTHING",
        [spec.id, JSON.stringify(spec), JSON.stringify(weightSpec), now],
      );
      if (inserted.rowCount !== 1) throw new PollenError('INVALID_TASK', `task "${spec.id}" already exists`);
      await c.query(
        'INSERT INTO model_versions (task_id, version, round_id, created_at, weights, metrics) VALUES ($1, 0, NULL, $2, $3, $4)',
        [spec.id, now, toBlob(initial), metricsText(metrics)],
      );
    });
    return (await this.getTask(spec.id))!;
  }

  async getTask(taskId: string): Promise<StoredTask | undefined> {
    const { rows } = await this.pool.query<PgTaskRow>('SELECT * FROM tasks WHERE id = $1', [taskId]);
    return rows[0] ? taskOf(rows[0]) : undefined;
  }

  async listTasks(): Promise<StoredTask[]> {
    const { rows } = await this.pool.query<PgTaskRow>('SELECT * FROM tasks ORDER BY created_at, id');
    return rows.map(taskOf);
  }

  async setTaskStatus(taskId: string, status: TaskStatus): Promise<void> {
    const { rowCount } = await this.pool.query('UPDATE tasks SET status = $1 WHERE id = $2', [
      status,
      taskId,
    ]);
    if (rowCount === 0) throw new PollenError('UNKNOWN_TASK', `no task "${taskId}"`);
  }

  async updateTaskSpec(spec: TaskSpec): Promise<void> {
    const { rowCount } = await this.pool.query('UPDATE tasks SET spec = $1 WHERE id = $2', [
      JSON.stringify(spec),
      spec.id,
    ]);
    if (rowCount === 0) throw new PollenError('UNKNOWN_TASK', `no task "${spec.id}"`);
  }

  async getVersion(taskId: string, version: number): Promise<ModelVersion | undefined> {
    const { rows } = await this.pool.query<VersionRow>(
      'SELECT * FROM model_versions WHERE task_id = $1 AND version = $2',
      [taskId, version],
    );
    return rows[0] ? versionOf(rows[0]) : undefined;
  }

  async listVersions(taskId: string): Promise<VersionInfo[]> {
    // octet_length of a stored (possibly TOASTed) bytea reads its header, not the weights.
    const { rows } = await this.pool.query<VersionRow>(
      'SELECT task_id, version, round_id, created_at, metrics, octet_length(weights) = 0 AS pruned FROM model_versions WHERE task_id = $1 ORDER BY version',
      [taskId],
    );
    return rows.map(versionInfoOf);
  }

  async openRound(record: RoundRecord, fence?: Fence): Promise<void> {
    await this.tx(async (c) => {
      await checkFence(c, record.taskId, fence);
      await c.query("INSERT INTO rounds (task_id, round_id, status, record) VALUES ($1, $2, 'open', $3)", [
        record.taskId,
        record.roundId,
        JSON.stringify(record),
      ]);
    });
  }

  async commitRound(
    record: RoundRecord,
    weights: Float32Array,
    strategy?: { readonly config: StrategyConfig; readonly state: StrategyState },
    privacy?: PrivacyState,
    fence?: Fence,
    retention?: RetentionPlan,
  ): Promise<number[]> {
    const newVersion = record.newVersion;
    if (newVersion === null) throw new PollenError('INTERNAL', 'a committed round needs a new version');
    const blob = toBlob(weights);
    return this.tx(async (c) => {
      await checkFence(c, record.taskId, fence);
      // Moving the version only from its predecessor makes a gap or a second commit impossible.
      const moved = await c.query(
        'UPDATE tasks SET current_version = $1 WHERE id = $2 AND current_version = $3 RETURNING id',
        [newVersion, record.taskId, newVersion - 1],
      );
      if (moved.rowCount !== 1) {
        const { rows } = await c.query<{ current_version: number }>(
          'SELECT current_version FROM tasks WHERE id = $1',
          [record.taskId],
        );
        if (!rows[0]) throw new PollenError('UNKNOWN_TASK', `no task "${record.taskId}"`);
        throw new PollenError(
          'STALE_MODEL',
          `round ${record.roundId} builds version ${newVersion} on ${rows[0].current_version}`,
        );
      }
      await c.query(
        'INSERT INTO model_versions (task_id, version, round_id, created_at, weights, metrics) VALUES ($1, $2, $3, $4, $5, $6)',
        [
          record.taskId,
          newVersion,
          record.roundId,
          record.endedAt ?? Date.now(),
          blob,
          metricsText(record.metrics),
        ],
      );
      // The record carries a digest of the committed weights, so any later read can be checked.
      await this.updateRound(c, { ...record, checksum: weightsChecksum(blob) });
      if (strategy) {
        await c.query(
          'INSERT INTO strategy_state (task_id, version, config, state) VALUES ($1, $2, $3, $4) ON CONFLICT (task_id) DO UPDATE SET version = EXCLUDED.version, config = EXCLUDED.config, state = EXCLUDED.state',
          [record.taskId, newVersion, JSON.stringify(strategy.config), encodeStrategyState(strategy.state)],
        );
      }
      if (privacy) {
        await c.query(
          'INSERT INTO privacy_ledger (task_id, version, ledger, clip_norm, exhausted) VALUES ($1, $2, $3, $4, NULL) ON CONFLICT (task_id) DO UPDATE SET version = EXCLUDED.version, ledger = EXCLUDED.ledger, clip_norm = EXCLUDED.clip_norm, exhausted = NULL',
          [
            record.taskId,
            newVersion,
            privacy.ledger === null ? null : JSON.stringify(privacy.ledger),
            privacy.clipNorm,
          ],
        );
      }
      return retention ? prune(c, record.taskId, newVersion, retention) : [];
    });
  }

  async attachEvaluation(
    taskId: string,
    version: number,
    metrics: Evaluated,
    evaluationMs: number,
  ): Promise<RoundRecord | undefined> {
    return this.tx(async (c) => {
      const found = await c.query<{ round_id: number | null }>(
        'UPDATE model_versions SET metrics = $1 WHERE task_id = $2 AND version = $3 RETURNING round_id',
        [metricsText(metrics), taskId, version],
      );
      const row = found.rows[0];
      if (!row) throw new PollenError('NOT_FOUND', `no version ${version} of "${taskId}"`);
      if (row.round_id === null) return undefined;
      const round = await c.query<{ record: string }>(
        'SELECT record FROM rounds WHERE task_id = $1 AND round_id = $2 FOR UPDATE',
        [taskId, row.round_id],
      );
      if (!round.rows[0]) return undefined;
      const updated = withEvaluation(JSON.parse(round.rows[0].record) as RoundRecord, metrics, evaluationMs);
      await c.query('UPDATE rounds SET record = $1 WHERE task_id = $2 AND round_id = $3', [
        JSON.stringify(updated),
        taskId,
        row.round_id,
      ]);
      return updated;
    });
  }

  private async updateRound(c: Client, record: RoundRecord): Promise<void> {
    const { rowCount } = await c.query(
      "UPDATE rounds SET status = $1, record = $2 WHERE task_id = $3 AND round_id = $4 AND status = 'open'",
      [record.status, JSON.stringify(record), record.taskId, record.roundId],
    );
    if (rowCount !== 1) {
      throw new PollenError('ROUND_CLOSED', `round ${record.roundId} of "${record.taskId}" is not open`);
    }
  }

  async getPrivacy(taskId: string): Promise<StoredPrivacy | undefined> {
    const { rows } = await this.pool.query<PrivacyRow>(
      'SELECT version, ledger, clip_norm, exhausted FROM privacy_ledger WHERE task_id = $1',
      [taskId],
    );
    const row = rows[0];
    if (!row) return undefined;
    return toPrivacy(row);
  }

  async exhaustBudget(taskId: string, reason: string): Promise<void> {
    await this.tx(async (c) => {
      const { rows } = await c.query<{ current_version: number }>(
        "UPDATE tasks SET status = 'budget-exhausted' WHERE id = $1 RETURNING current_version",
        [taskId],
      );
      if (!rows[0]) throw new PollenError('UNKNOWN_TASK', `no task "${taskId}"`);
      await c.query(
        'INSERT INTO privacy_ledger (task_id, version, ledger, clip_norm, exhausted) VALUES ($1, $2, NULL, NULL, $3) ON CONFLICT (task_id) DO UPDATE SET exhausted = EXCLUDED.exhausted',
        [taskId, rows[0].current_version, reason],
      );
    });
  }

  async getStrategyState(taskId: string): Promise<StoredStrategyState | undefined> {
    const { rows } = await this.pool.query<StrategyRow>(
      'SELECT version, config, state FROM strategy_state WHERE task_id = $1',
      [taskId],
    );
    const row = rows[0];
    if (!row) return undefined;
    return toStrategyState(row);
  }

  async abandonRound(record: RoundRecord, fence?: Fence): Promise<void> {
    await this.tx(async (c) => {
      await checkFence(c, record.taskId, fence);
      await this.updateRound(c, record);
    });
  }

  async abandonOpenRounds(
    reason: string,
    scope?: { readonly taskId: string; readonly fence: Fence },
  ): Promise<number> {
    return this.tx(async (c) => {
      if (scope) await checkFence(c, scope.taskId, scope.fence);
      const { rows } = scope
        ? await c.query<{ record: string }>(
            "SELECT record FROM rounds WHERE status = 'open' AND task_id = $1 FOR UPDATE",
            [scope.taskId],
          )
        : await c.query<{ record: string }>("SELECT record FROM rounds WHERE status = 'open' FOR UPDATE");
      for (const row of rows) {
        const record = JSON.parse(row.record) as RoundRecord;
        await this.updateRound(c, { ...record, status: 'abandoned', endedAt: Date.now(), reason });
      }
      return rows.length;
    });
  }

  async listRounds(taskId: string, options: { after?: number; limit?: number } = {}): Promise<RoundRecord[]> {
    const { rows } = await this.pool.query<{ record: string }>(
      'SELECT record FROM rounds WHERE task_id = $1 AND round_id > $2 ORDER BY round_id LIMIT $3',
      [taskId, options.after ?? -1, options.limit ?? 1000],
    );
    return rows.map((row) => JSON.parse(row.record) as RoundRecord);
  }

  async nextRoundId(taskId: string): Promise<number> {
    const { rows } = await this.pool.query<{ last: number | null }>(
      'SELECT MAX(round_id) AS last FROM rounds WHERE task_id = $1',
      [taskId],
    );
    return (rows[0]?.last ?? 0) + 1;
  }

  async saveEvaluation(record: EvaluationRecord, fence?: Fence): Promise<void> {
    await this.tx(async (c) => {
      await checkFence(c, record.taskId, fence);
      await c.query(
        'INSERT INTO evaluation_rounds (task_id, evaluation_id, status, record) VALUES ($1, $2, $3, $4) ON CONFLICT (task_id, evaluation_id) DO UPDATE SET status = excluded.status, record = excluded.record',
        [record.taskId, record.evaluationId, record.status, JSON.stringify(record)],
      );
    });
  }

  async listEvaluations(taskId: string, options: { latest?: number } = {}): Promise<EvaluationRecord[]> {
    const { rows } = await this.pool.query<{ record: string }>(
      'SELECT record FROM (SELECT evaluation_id, record FROM evaluation_rounds WHERE task_id = $1 ORDER BY evaluation_id DESC LIMIT $2) AS latest ORDER BY evaluation_id',
      [taskId, options.latest ?? 1000],
    );
    return rows.map((row) => JSON.parse(row.record) as EvaluationRecord);
  }

  async nextEvaluationId(taskId: string): Promise<number> {
    const { rows } = await this.pool.query<{ last: number | null }>(
      'SELECT MAX(evaluation_id) AS last FROM evaluation_rounds WHERE task_id = $1',
      [taskId],
    );
    return (rows[0]?.last ?? 0) + 1;
  }

  async abandonOpenEvaluations(reason: string, scope?: { readonly taskId: string }): Promise<number> {
    return this.tx(async (c) => {
      const { rows } = await c.query<{ record: string }>(
        "SELECT record FROM evaluation_rounds WHERE status = 'open' AND ($1::text IS NULL OR task_id = $1) FOR UPDATE",
        [scope?.taskId ?? null],
      );
      for (const row of rows) {
        const record = abandonedEvaluation(JSON.parse(row.record) as EvaluationRecord, reason);
        await c.query(
          'UPDATE evaluation_rounds SET status = $1, record = $2 WHERE task_id = $3 AND evaluation_id = $4',
          [record.status, JSON.stringify(record), record.taskId, record.evaluationId],
        );
      }
      return rows.length;
    });
  }

  shardFor(clientId: string, taskId: string, numShards: number): Promise<number> {
    return this.clients.shardFor(clientId, taskId, numShards);
  }

  claimClient(clientId: string, secretHash: string): Promise<string> {
    return this.clients.claim(clientId, secretHash);
  }

  putHeldOut(taskId: string, count: number, data: Uint8Array): Promise<HeldOutInfo> {
    return this.heldOut.put(taskId, count, data);
  }

  getHeldOutInfo(taskId: string): Promise<HeldOutInfo | undefined> {
    return this.heldOut.info(taskId);
  }

  getHeldOut(taskId: string): Promise<StoredHeldOut | undefined> {
    return this.heldOut.get(taskId);
  }

  deleteHeldOut(taskId: string): Promise<boolean> {
    return this.heldOut.delete(taskId);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
