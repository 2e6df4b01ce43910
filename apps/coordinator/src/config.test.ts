import { PollenError } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';

function refusal(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    loadConfig(argv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(PollenError);
    expect((err as PollenError).code).toBe('INVALID_ARGUMENT');
    return (err as Error).message;
  }
  throw new Error('accepted');
}

describe('store and cluster configuration', () => {
  it('defaults to the embedded store and no cluster', () => {
    const config = loadConfig([], {});
    expect(config.store).toEqual({ kind: 'sqlite' });
    expect(config.cluster).toBeUndefined();
  });

  it('takes PostgreSQL and Redis from flags or the environment', () => {
    const env = {
      POLLEN_STORE: 'postgres',
      POLLEN_DATABASE_URL: 'postgres://pollen@127.0.0.1:5432/pollen',
      POLLEN_REDIS_URL: 'redis://127.0.0.1:6379',
      POLLEN_NODE_ID: 'node-a',
    };
    expect(loadConfig([], env)).toMatchObject({
      store: { kind: 'postgres', url: env.POLLEN_DATABASE_URL },
      cluster: { redisUrl: env.POLLEN_REDIS_URL, nodeId: 'node-a' },
    });
    const flags = loadConfig(['--store', 'postgres', '--database-url', 'postgresql://db.internal/p'], {});
    expect(flags.store).toEqual({ kind: 'postgres', url: 'postgresql://db.internal/p' });
    expect(loadConfig([], { ...env, POLLEN_NODE_ID: undefined }).cluster!.nodeId).toMatch(/-\d+$/);
  });

  it('refuses what cannot work with a message naming the setting', () => {
    expect(refusal(['--store', 'mysql'])).toMatch(/store/);
    expect(refusal([], { POLLEN_STORE: 'postgres' })).toMatch(/POLLEN_DATABASE_URL/);
    expect(refusal([], { POLLEN_STORE: 'postgres', POLLEN_DATABASE_URL: 'not a url' })).toMatch(
      /POLLEN_DATABASE_URL is not a URL/,
    );
    expect(refusal([], { POLLEN_STORE: 'postgres', POLLEN_DATABASE_URL: 'mysql://h/db' })).toMatch(
      /postgres:\/\/ or postgresql:\/\//,
    );
    expect(refusal([], { POLLEN_DATABASE_URL: 'postgres://h/db' })).toMatch(/POLLEN_STORE=postgres/);
    expect(refusal([], { POLLEN_REDIS_URL: 'redis://h:6379' })).toMatch(/POLLEN_STORE=postgres/);
    const pgEnv = { POLLEN_STORE: 'postgres', POLLEN_DATABASE_URL: 'postgres://h/db' };
    expect(refusal([], { ...pgEnv, POLLEN_REDIS_URL: 'http://h:6379' })).toMatch(/POLLEN_REDIS_URL/);
    expect(refusal([], { ...pgEnv, POLLEN_REDIS_URL: 'redis://h', POLLEN_NODE_ID: 'a b' })).toMatch(
      /POLLEN_NODE_ID/,
    );
  });
});
