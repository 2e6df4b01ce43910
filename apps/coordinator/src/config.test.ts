import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

describe('admission configuration', () => {
  it('defaults to no join-token key and the documented per-address limits', () => {
    expect(loadConfig([], {}).admission).toEqual({
      maxConnectionsPerAddress: 256,
      hellosPerSecondPerAddress: 10,
    });
  });

  it('takes join-token keys and limits from flags or the environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pollen-config-'));
    try {
      const pem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
      writeFileSync(join(dir, 'key.pem'), pem);
      const config = loadConfig(
        ['--max-connections-per-address', '5000', '--join-token-issuer', 'https://host'],
        {
          POLLEN_JOIN_TOKEN_SECRET: 'x'.repeat(32),
          POLLEN_JOIN_TOKEN_PUBLIC_KEY: join(dir, 'key.pem'),
          POLLEN_HELLOS_PER_SECOND_PER_ADDRESS: '0',
        },
      );
      expect(config.admission).toEqual({
        joinTokenSecret: 'x'.repeat(32),
        joinTokenPublicKey: pem,
        joinTokenIssuer: 'https://host',
        maxConnectionsPerAddress: 5000,
        hellosPerSecondPerAddress: 0,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a short secret, an unreadable key and a negative limit, naming the setting', () => {
    expect(refusal([], { POLLEN_JOIN_TOKEN_SECRET: 'short' })).toMatch(/POLLEN_JOIN_TOKEN_SECRET/);
    expect(refusal([], { POLLEN_JOIN_TOKEN_PUBLIC_KEY: '/nonexistent/key.pem' })).toMatch(
      /POLLEN_JOIN_TOKEN_PUBLIC_KEY/,
    );
    expect(refusal(['--max-connections-per-address', '-1'])).toMatch(/POLLEN_MAX_CONNECTIONS_PER_ADDRESS/);
  });
});

describe('retention and evaluation settings', () => {
  it('defaults to the last 10 versions, every 100th, 2,000 held-out examples, an evaluator at nice 10', () => {
    expect(loadConfig([], {})).toMatchObject({
      retention: { keepLast: 10, keepEvery: 100 },
      evaluationSample: 2000,
      evaluatorNice: 10,
    });
    expect(loadConfig(['--evaluator-nice', '0'], {})).toMatchObject({ evaluatorNice: 0 });
    expect(loadConfig([], { POLLEN_EVALUATOR_NICE: '19' })).toMatchObject({ evaluatorNice: 19 });
  });

  it('takes them from flags or the environment', () => {
    expect(
      loadConfig(['--keep-versions', '3', '--keep-every', '0', '--evaluation-sample', '0'], {}),
    ).toMatchObject({ retention: { keepLast: 3, keepEvery: 0 }, evaluationSample: 0 });
    expect(
      loadConfig([], {
        POLLEN_KEEP_VERSIONS: '25',
        POLLEN_KEEP_EVERY: '50',
        POLLEN_EVALUATION_SAMPLE: '500',
      }),
    ).toMatchObject({ retention: { keepLast: 25, keepEvery: 50 }, evaluationSample: 500 });
  });

  it('refuses what is not a whole number in range, naming the setting', () => {
    expect(refusal(['--keep-versions', '0'])).toBe(
      '"POLLEN_KEEP_VERSIONS" expected integer in [1, 1000000], got 0',
    );
    expect(refusal([], { POLLEN_KEEP_VERSIONS: 'ten' })).toMatch(/^"POLLEN_KEEP_VERSIONS" expected integer/);
    expect(refusal(['--keep-every=-1'])).toMatch(/^"POLLEN_KEEP_EVERY" expected integer in \[0, /);
    expect(refusal([], { POLLEN_KEEP_EVERY: '2.5' })).toMatch(/^"POLLEN_KEEP_EVERY" expected integer/);
    expect(refusal(['--evaluation-sample', ''])).toMatch(/^"POLLEN_EVALUATION_SAMPLE" expected integer/);
    expect(refusal([], { POLLEN_EVALUATION_SAMPLE: '1e9' })).toMatch(
      /^"POLLEN_EVALUATION_SAMPLE" expected integer/,
    );
    expect(refusal(['--evaluator-nice', '20'])).toBe(
      '"POLLEN_EVALUATOR_NICE" expected integer in [0, 19], got 20',
    );
    expect(refusal([], { POLLEN_EVALUATOR_NICE: '-1' })).toMatch(/^"POLLEN_EVALUATOR_NICE" expected integer/);
  });

  it('takes the upload budget in MiB (64 by default), and refuses one that is not a positive whole number', () => {
    const MiB = 2 ** 20;
    expect(loadConfig([], {}).uploadBudgetBytes).toBe(64 * MiB);
    expect(loadConfig(['--upload-budget-mb', '8'], {}).uploadBudgetBytes).toBe(8 * MiB);
    expect(loadConfig([], { POLLEN_UPLOAD_BUDGET_MB: '256' }).uploadBudgetBytes).toBe(256 * MiB);
    expect(refusal(['--upload-budget-mb', '0'])).toMatch(
      /^"POLLEN_UPLOAD_BUDGET_MB" expected integer in \[1, /,
    );
    expect(refusal([], { POLLEN_UPLOAD_BUDGET_MB: '1.5' })).toMatch(
      /^"POLLEN_UPLOAD_BUDGET_MB" expected integer/,
    );
    expect(refusal([], { POLLEN_UPLOAD_BUDGET_MB: 'lots' })).toMatch(
      /^"POLLEN_UPLOAD_BUDGET_MB" expected integer/,
    );
  });
});
