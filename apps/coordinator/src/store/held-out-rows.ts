import { createHash } from 'node:crypto';
import { PollenError } from '@pollen/fl-core';
import type Database from 'better-sqlite3';
import type pg from 'pg';
import type { HeldOutInfo, StoredHeldOut } from './types.ts';

/** A held_out row as both stores return it (PostgreSQL's BIGINT comes back as a string). */
interface HeldOutRow {
  task_id: string;
  count: number;
  bytes: number | string;
  digest: string;
  uploaded_at: number | string;
  data?: Buffer;
}

const INFO_COLUMNS = 'task_id, count, length(data) AS bytes, digest, uploaded_at';

function infoOf(row: HeldOutRow): HeldOutInfo {
  return {
    taskId: row.task_id,
    count: row.count,
    bytes: Number(row.bytes),
    digest: row.digest,
    uploadedAt: Number(row.uploaded_at),
  };
}

function storedOf(row: HeldOutRow): StoredHeldOut {
  const data = row.data!;
  return { ...infoOf(row), data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

const unknownTask = (taskId: string): PollenError => new PollenError('UNKNOWN_TASK', `no task "${taskId}"`);

const digestOf = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** Held-out rows in the SQLite file: the same semantics as {@link PostgresHeldOut}. */
export class SqliteHeldOut {
  constructor(private readonly db: Database.Database) {}

  put(taskId: string, count: number, data: Uint8Array): HeldOutInfo {
    const digest = digestOf(data);
    const now = Date.now();
    this.db.transaction(() => {
      if (!this.db.prepare('SELECT 1 FROM tasks WHERE id = ?').get(taskId)) throw unknownTask(taskId);
      this.db
        .prepare(
          `INSERT INTO held_out (task_id, count, data, digest, uploaded_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (task_id) DO UPDATE SET count = excluded.count, data = excluded.data,
             digest = excluded.digest, uploaded_at = excluded.uploaded_at`,
        )
        .run(taskId, count, Buffer.from(data.buffer, data.byteOffset, data.byteLength), digest, now);
    })();
    return { taskId, count, bytes: data.byteLength, digest, uploadedAt: now };
  }

  info(taskId: string): HeldOutInfo | undefined {
    const row = this.db.prepare(`SELECT ${INFO_COLUMNS} FROM held_out WHERE task_id = ?`).get(taskId);
    return row ? infoOf(row as HeldOutRow) : undefined;
  }

  get(taskId: string): StoredHeldOut | undefined {
    const row = this.db.prepare(`SELECT ${INFO_COLUMNS}, data FROM held_out WHERE task_id = ?`).get(taskId) as
      | HeldOutRow
      | undefined;
    return row ? storedOf(row) : undefined;
  }

  delete(taskId: string): boolean {
    return this.db.prepare('DELETE FROM held_out WHERE task_id = ?').run(taskId).changes > 0;
  }
}

/** Held-out rows in PostgreSQL. */
export class PostgresHeldOut {
  constructor(private readonly pool: pg.Pool) {}

  async put(taskId: string, count: number, data: Uint8Array): Promise<HeldOutInfo> {
    const digest = digestOf(data);
    const now = Date.now();
    // INSERT ... SELECT from tasks: no row for an unknown task, in one statement.
    const { rowCount } = await this.pool.query(
      `INSERT INTO held_out (task_id, count, data, digest, uploaded_at)
       SELECT id, $2, $3, $4, $5 FROM tasks WHERE id = $1
       ON CONFLICT (task_id) DO UPDATE SET count = EXCLUDED.count, data = EXCLUDED.data,
         digest = EXCLUDED.digest, uploaded_at = EXCLUDED.uploaded_at`,
      [taskId, count, Buffer.from(data.buffer, data.byteOffset, data.byteLength), digest, now],
    );
    if (rowCount !== 1) throw unknownTask(taskId);
    return { taskId, count, bytes: data.byteLength, digest, uploadedAt: now };
  }

  async info(taskId: string): Promise<HeldOutInfo | undefined> {
    const { rows } = await this.pool.query<HeldOutRow>(
      `SELECT ${INFO_COLUMNS} FROM held_out WHERE task_id = $1`,
      [taskId],
    );
    return rows[0] ? infoOf(rows[0]) : undefined;
  }

  async get(taskId: string): Promise<StoredHeldOut | undefined> {
    const { rows } = await this.pool.query<HeldOutRow>(
      `SELECT ${INFO_COLUMNS}, data FROM held_out WHERE task_id = $1`,
      [taskId],
    );
    return rows[0] ? storedOf(rows[0]) : undefined;
  }

  async delete(taskId: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('DELETE FROM held_out WHERE task_id = $1', [taskId]);
    return (rowCount ?? 0) > 0;
  }
}
