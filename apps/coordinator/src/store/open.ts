import type { CoordinatorConfig } from '../config.ts';
import { PostgresStore } from './postgres.ts';
import { SqliteStore } from './sqlite.ts';
import type { Store } from './types.ts';

/** The store the configuration names: the embedded SQLite file by default, else PostgreSQL. */
export async function openStore(config: Pick<CoordinatorConfig, 'dataDir' | 'store'>): Promise<Store> {
  if (config.store?.kind === 'postgres') return PostgresStore.connect(config.store.url);
  return new SqliteStore(config.dataDir);
}
