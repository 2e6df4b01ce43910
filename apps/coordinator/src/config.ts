import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { expectInt, expectOneOf, PollenError } from '@pollen/fl-core';

/** Everything the coordinator process is configured with. */
export interface CoordinatorConfig {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** The built web client (contributor page and dashboard), or null to serve no pages. */
  readonly webRoot: string | null;
  /** A JSON file describing the task to create when the store does not have it yet. */
  readonly taskFile: string | null;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Bearer tokens that open the operator API; none configured means no operator access. */
  readonly operatorTokens: readonly string[];
  /** Where durable state lives: the embedded SQLite file in dataDir (default) or PostgreSQL. */
  readonly store?: StoreConfig;
  /**
   * Redis shared by several coordinators (Socket.io adapter, round leases, partial sums); absent
   * for one process on its own. Needs the PostgreSQL store.
   */
  readonly cluster?: ClusterConfig;
}

export type StoreConfig = { readonly kind: 'sqlite' } | { readonly kind: 'postgres'; readonly url: string };

export interface ClusterConfig {
  readonly redisUrl: string;
  /** This node's name in the cluster (logs, the client registry); unique per process. */
  readonly nodeId: string;
}

const NODE_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** A connection URL with one of these schemes, or a clear startup error naming the setting. */
function expectUrl(name: string, value: string, schemes: readonly string[]): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new PollenError('INVALID_ARGUMENT', `${name} is not a URL: "${value}"`);
  }
  if (!schemes.includes(url.protocol) || url.hostname === '') {
    throw new PollenError(
      'INVALID_ARGUMENT',
      `${name} must be a ${schemes.map((s) => `${s}//`).join(' or ')} URL with a host, got "${url.protocol}//${url.host}"`,
    );
  }
  return value;
}

export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../web-client/dist', import.meta.url));

const USAGE = `pollen-coordinator [options]
  --host HOST        interface to listen on (POLLEN_HOST, default 127.0.0.1)
  --port PORT        port, 0 for any free one (POLLEN_PORT, default 8080)
  --data-dir DIR     where the embedded store lives (POLLEN_DATA_DIR, default .data)
  --task FILE        task JSON to create if absent (POLLEN_TASK, default: the MNIST task)
  --web-root DIR     built web client to serve (POLLEN_WEB_ROOT)
  --log-level LEVEL  fatal|error|warn|info|debug|trace|silent (POLLEN_LOG_LEVEL, default info)
  --operator-token T operator bearer token, repeatable (POLLEN_OPERATOR_TOKENS, comma-separated);
                     without one, a random token is made and kept in DATA_DIR/operator-token
  --store KIND       sqlite (embedded, in DATA_DIR) or postgres (POLLEN_STORE, default sqlite)
  --database-url URL postgres://user@host:port/db for --store postgres (POLLEN_DATABASE_URL)
  --redis-url URL    redis://host:port shared by several coordinators (POLLEN_REDIS_URL);
                     needs --store postgres
  --node-id ID       this coordinator's name in the cluster (POLLEN_NODE_ID, default host-pid)`;

/** Read the configuration from command-line flags, then environment variables, then defaults. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): CoordinatorConfig {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        'data-dir': { type: 'string' },
        task: { type: 'string' },
        'web-root': { type: 'string' },
        'log-level': { type: 'string' },
        'operator-token': { type: 'string', multiple: true },
        store: { type: 'string' },
        'database-url': { type: 'string' },
        'redis-url': { type: 'string' },
        'node-id': { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (err) {
    throw new PollenError('INVALID_ARGUMENT', `${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) throw new PollenError('INVALID_ARGUMENT', USAGE);
  const str = (flag: string, name: string): string | undefined =>
    (values[flag] as string | undefined) ?? env[name];
  const port = Number(str('port', 'POLLEN_PORT') ?? 8080);
  const tokens =
    (values['operator-token'] as string[] | undefined) ?? (env.POLLEN_OPERATOR_TOKENS ?? '').split(',');
  const operatorTokens = tokens.map((t) => t.trim()).filter((t) => t.length > 0);
  for (const token of operatorTokens) {
    if (token.length < 16)
      throw new PollenError('INVALID_ARGUMENT', 'operator tokens need at least 16 characters');
  }
  const storeKind = expectOneOf('store', str('store', 'POLLEN_STORE') ?? 'sqlite', ['sqlite', 'postgres']);
  const databaseUrl = str('database-url', 'POLLEN_DATABASE_URL');
  let store: StoreConfig = { kind: 'sqlite' };
  if (storeKind === 'postgres') {
    if (!databaseUrl)
      throw new PollenError('INVALID_ARGUMENT', 'POLLEN_STORE=postgres needs POLLEN_DATABASE_URL');
    store = {
      kind: 'postgres',
      url: expectUrl('POLLEN_DATABASE_URL', databaseUrl, ['postgres:', 'postgresql:']),
    };
  } else if (databaseUrl) {
    throw new PollenError(
      'INVALID_ARGUMENT',
      'POLLEN_DATABASE_URL is set but the store is sqlite: set POLLEN_STORE=postgres',
    );
  }
  const redisUrl = str('redis-url', 'POLLEN_REDIS_URL');
  let cluster: ClusterConfig | undefined;
  if (redisUrl) {
    if (store.kind !== 'postgres') {
      throw new PollenError(
        'INVALID_ARGUMENT',
        'several coordinators (POLLEN_REDIS_URL) share their state in PostgreSQL: set POLLEN_STORE=postgres',
      );
    }
    const nodeId = str('node-id', 'POLLEN_NODE_ID') ?? `${hostname()}-${process.pid}`;
    if (!NODE_ID_PATTERN.test(nodeId)) {
      throw new PollenError(
        'INVALID_ARGUMENT',
        `POLLEN_NODE_ID must match ${NODE_ID_PATTERN}, got "${nodeId}"`,
      );
    }
    cluster = { redisUrl: expectUrl('POLLEN_REDIS_URL', redisUrl, ['redis:', 'rediss:']), nodeId };
  }
  return {
    store,
    ...(cluster ? { cluster } : {}),
    host: str('host', 'POLLEN_HOST') ?? '127.0.0.1',
    port: expectInt('port', port, 0, 65535),
    dataDir: resolve(str('data-dir', 'POLLEN_DATA_DIR') ?? '.data'),
    taskFile: str('task', 'POLLEN_TASK') ?? null,
    webRoot: resolve(str('web-root', 'POLLEN_WEB_ROOT') ?? DEFAULT_WEB_ROOT),
    operatorTokens,
    logLevel: expectOneOf('log-level', str('log-level', 'POLLEN_LOG_LEVEL') ?? 'info', [
      'fatal',
      'error',
      'warn',
      'info',
      'debug',
      'trace',
      'silent',
    ]),
  };
}
