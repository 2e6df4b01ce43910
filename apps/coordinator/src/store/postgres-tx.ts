import { PollenError } from '@pollen/fl-core';
import type pg from 'pg';
import { MIGRATIONS } from './postgres-schema.ts';
import type { Fence } from './types.ts';

/** One pooled connection inside a transaction. */
export type Client = pg.PoolClient;

/** Any 64-bit key held while migrating, so several nodes starting at once apply each step once. */
const MIGRATION_LOCK = 0x706f6c6c656e; // "pollen"

/** Run `fn` in one transaction on one pooled connection; any throw rolls it back. */
export async function transaction<T>(pool: pg.Pool, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const result = await fn(c);
    await c.query('COMMIT');
    return result;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}

/** Bring the schema up to date, each step once however many nodes start at once. */
export function migrate(pool: pg.Pool): Promise<void> {
  return transaction(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query(
      'CREATE TABLE IF NOT EXISTS pollen_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)',
    );
    const { rows } = await c.query<{ v: number | null }>('SELECT MAX(version) AS v FROM pollen_migrations');
    for (let v = (rows[0]?.v ?? 0) + 1; v <= MIGRATIONS.length; v++) {
      await c.query(MIGRATIONS[v - 1]!);
      await c.query('INSERT INTO pollen_migrations (version, applied_at) VALUES ($1, $2)', [v, Date.now()]);
    }
  });
}

/**
 * Inside a round write's transaction: refuse it with LEASE_LOST unless `fence` is the task's
 * newest token. The upsert takes the row lock, so two holders' writes are ordered and the lower
 * token loses.
 */
export async function checkFence(c: Client, taskId: string, fence: Fence | undefined): Promise<void> {
  if (!fence) return;
  const { rowCount } = await c.query(
    'INSERT INTO fences (task_id, token) VALUES ($1, $2) ON CONFLICT (task_id) DO UPDATE SET token = EXCLUDED.token WHERE fences.token <= EXCLUDED.token RETURNING token',
    [taskId, fence.token],
  );
  if (rowCount !== 1) {
    throw new PollenError('LEASE_LOST', `the round lease of "${taskId}" moved past token ${fence.token}`);
  }
}
