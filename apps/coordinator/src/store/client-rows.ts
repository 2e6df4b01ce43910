import type Database from 'better-sqlite3';
import type pg from 'pg';
import { transaction } from './postgres-tx.ts';

/**
 * The clients both stores keep: each client's data shard per task (assigned in order of first
 * visit) and the hash of the secret each client id is bound to on first sight
 * (docs/protocol.md, "Identity and admission"). The same semantics in SQLite and PostgreSQL.
 */

/** Client rows in the SQLite file: the same semantics as {@link PostgresClients}. */
export class SqliteClients {
  constructor(private readonly db: Database.Database) {}

  shardFor(clientId: string, taskId: string, numShards: number): number {
    return this.db.transaction(() => {
      const row = this.db
        .prepare('SELECT shard FROM clients WHERE client_id = ? AND task_id = ?')
        .get(clientId, taskId) as { shard: number } | undefined;
      if (row) return row.shard % numShards;
      const { n } = this.db.prepare('SELECT COUNT(*) AS n FROM clients WHERE task_id = ?').get(taskId) as {
        n: number;
      };
      const shard = n % numShards;
      this.db
        .prepare('INSERT INTO clients (client_id, task_id, shard, first_seen) VALUES (?, ?, ?, ?)')
        .run(clientId, taskId, shard, Date.now());
      return shard;
    })();
  }

  claim(clientId: string, secretHash: string): string {
    this.db
      .prepare(
        'INSERT OR IGNORE INTO client_identities (client_id, secret_hash, first_seen) VALUES (?, ?, ?)',
      )
      .run(clientId, secretHash, Date.now());
    const row = this.db
      .prepare('SELECT secret_hash FROM client_identities WHERE client_id = ?')
      .get(clientId) as { secret_hash: string };
    return row.secret_hash;
  }
}

/** Client rows in PostgreSQL, safe under concurrent first visits from several nodes. */
export class PostgresClients {
  constructor(private readonly pool: pg.Pool) {}

  shardFor(clientId: string, taskId: string, numShards: number): Promise<number> {
    return transaction(this.pool, async (c) => {
      // One assignment at a time per task, so two first visits never count the same n.
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [taskId]);
      const found = await c.query<{ shard: number }>(
        'SELECT shard FROM clients WHERE client_id = $1 AND task_id = $2',
        [clientId, taskId],
      );
      if (found.rows[0]) return found.rows[0].shard % numShards;
      const { rows } = await c.query<{ n: string }>('SELECT COUNT(*) AS n FROM clients WHERE task_id = $1', [
        taskId,
      ]);
      const shard = Number(rows[0]!.n) % numShards;
      await c.query('INSERT INTO clients (client_id, task_id, shard, first_seen) VALUES ($1, $2, $3, $4)', [
        clientId,
        taskId,
        shard,
        Date.now(),
      ]);
      return shard;
    });
  }

  async claim(clientId: string, secretHash: string): Promise<string> {
    // The first writer wins; a concurrent claim with another secret reads the winner's hash.
    await this.pool.query(
      'INSERT INTO client_identities (client_id, secret_hash, first_seen) VALUES ($1, $2, $3) ON CONFLICT (client_id) DO NOTHING',
      [clientId, secretHash, Date.now()],
    );
    const { rows } = await this.pool.query<{ secret_hash: string }>(
      'SELECT secret_hash FROM client_identities WHERE client_id = $1',
      [clientId],
    );
    return rows[0]!.secret_hash;
  }
}
