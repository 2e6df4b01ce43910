import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { expectInt, expectOneOf, PollenError } from '@pollen/fl-core';
import { DEFAULT_ADDRESS_LIMITS } from './admission/address-limits.ts';
import { DEFAULT_EVALUATOR_NICE } from './ml/evaluator-priority.ts';
import { DEFAULT_EVALUATION_SAMPLE } from './ml/held-out-sample.ts';
import { DEFAULT_UPLOAD_BUDGET_BYTES } from './rounds/upload-slots.ts';
import { DEFAULT_RETENTION, type RetentionPolicy } from './store/retention.ts';

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
  /** Join-token keys and per-address limits; absent: no join-token key, default limits. */
  readonly admission?: AdmissionConfig;
  /** Which versions' weights are kept (docs/operating.md, "Retention"); absent: the defaults. */
  readonly retention?: RetentionPolicy;
  /** Held-out examples each version is evaluated on at most (a fixed sample; 0: all); absent: 2,000. */
  readonly evaluationSample?: number;
  /** The evaluator thread's nice value on Linux (0-19); absent: 10. */
  readonly evaluatorNice?: number;
  /** Bytes of uploads contributors may send at once (docs/operating.md, "Upload flow control"); absent: 64 MiB. */
  readonly uploadBudgetBytes?: number;
}

/** Who may connect as a contributor (docs/operating.md, "Admission"). */
export interface AdmissionConfig {
  /** HMAC secret shared with the host site's backend, for HS256/384/512 join tokens. */
  readonly joinTokenSecret?: string;
  /** The host backend's public key (PEM, SPKI) for RS256/PS256/ES256/ES384/EdDSA join tokens. */
  readonly joinTokenPublicKey?: string;
  /** When set, join tokens must carry this `iss`. */
  readonly joinTokenIssuer?: string;
  /** Contributor connections open at once per remote address; 0: no limit. */
  readonly maxConnectionsPerAddress?: number;
  /** Contributor connections (hellos) per second per remote address, sustained; 0: no limit. */
  readonly hellosPerSecondPerAddress?: number;
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
  --task FILE|NAME   task JSON to create if absent, or a built-in task: next-char, spam
                     (POLLEN_TASK, default: the MNIST task)
  --web-root DIR     built web client to serve (POLLEN_WEB_ROOT)
  --log-level LEVEL  fatal|error|warn|info|debug|trace|silent (POLLEN_LOG_LEVEL, default info)
  --operator-token T operator bearer token, repeatable (POLLEN_OPERATOR_TOKENS, comma-separated);
                     without one, a random token is made and kept in DATA_DIR/operator-token
  --store KIND       sqlite (embedded, in DATA_DIR) or postgres (POLLEN_STORE, default sqlite)
  --database-url URL postgres://user@host:port/db for --store postgres (POLLEN_DATABASE_URL)
  --redis-url URL    redis://host:port shared by several coordinators (POLLEN_REDIS_URL);
                     needs --store postgres
  --node-id ID       this coordinator's name in the cluster (POLLEN_NODE_ID, default host-pid)
  --join-token-secret S      HMAC secret for join tokens, 32+ characters (POLLEN_JOIN_TOKEN_SECRET)
  --join-token-public-key F  PEM public key file for signed join tokens (POLLEN_JOIN_TOKEN_PUBLIC_KEY)
  --join-token-issuer ISS    required "iss" of join tokens (POLLEN_JOIN_TOKEN_ISSUER)
  --max-connections-per-address N  open contributor connections per address, 0: no limit
                     (POLLEN_MAX_CONNECTIONS_PER_ADDRESS, default 256)
  --hellos-per-second-per-address N  contributor connections per second per address, bursts of
                     10 s worth, 0: no limit (POLLEN_HELLOS_PER_SECOND_PER_ADDRESS, default 10)
  --keep-versions N  keep the weights of each task's last N versions, N >= 1
                     (POLLEN_KEEP_VERSIONS, default 10)
  --keep-every M     and of every M-th version, 0: none (POLLEN_KEEP_EVERY, default 100)
  --evaluation-sample N  held-out examples each version is evaluated on at most, a fixed
                     sample of a larger set, 0: all (POLLEN_EVALUATION_SAMPLE, default 2000)
  --evaluator-nice N the held-out evaluator thread's nice value on Linux, 0-19: higher yields
                     the CPU to intake and commits sooner (POLLEN_EVALUATOR_NICE, default 10)
  --upload-budget-mb N  MiB of uploads contributors may send at once; devices wait for a slot
                     beyond it (at least one upload at a time) (POLLEN_UPLOAD_BUDGET_MB, default 64)`;

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
        'join-token-secret': { type: 'string' },
        'join-token-public-key': { type: 'string' },
        'join-token-issuer': { type: 'string' },
        'max-connections-per-address': { type: 'string' },
        'hellos-per-second-per-address': { type: 'string' },
        'keep-versions': { type: 'string' },
        'keep-every': { type: 'string' },
        'evaluation-sample': { type: 'string' },
        'evaluator-nice': { type: 'string' },
        'upload-budget-mb': { type: 'string' },
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
  // Settings are whole numbers; anything else (a fraction, a word, an empty string) is refused by name.
  const whole = (flag: string, name: string, fallback: number, min: number, max: number): number => {
    const text = str(flag, name);
    return expectInt(
      name,
      text === undefined ? fallback : /^\d{1,10}$/.test(text) ? Number(text) : text,
      min,
      max,
    );
  };
  return {
    store,
    ...(cluster ? { cluster } : {}),
    admission: loadAdmission(str),
    retention: {
      keepLast: whole('keep-versions', 'POLLEN_KEEP_VERSIONS', DEFAULT_RETENTION.keepLast, 1, 1_000_000),
      keepEvery: whole('keep-every', 'POLLEN_KEEP_EVERY', DEFAULT_RETENTION.keepEvery, 0, 1_000_000_000),
    },
    evaluationSample: whole(
      'evaluation-sample',
      'POLLEN_EVALUATION_SAMPLE',
      DEFAULT_EVALUATION_SAMPLE,
      0,
      100_000_000,
    ),
    evaluatorNice: whole('evaluator-nice', 'POLLEN_EVALUATOR_NICE', DEFAULT_EVALUATOR_NICE, 0, 19),
    uploadBudgetBytes:
      whole(
        'upload-budget-mb',
        'POLLEN_UPLOAD_BUDGET_MB',
        DEFAULT_UPLOAD_BUDGET_BYTES / 2 ** 20,
        1,
        1_048_576,
      ) *
      2 ** 20,
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

/** The admission settings: join-token keys (checked now, not at the first connection) and limits. */
function loadAdmission(str: (flag: string, name: string) => string | undefined): AdmissionConfig {
  const secret = str('join-token-secret', 'POLLEN_JOIN_TOKEN_SECRET');
  if (secret !== undefined && secret.length < 32) {
    throw new PollenError('INVALID_ARGUMENT', 'POLLEN_JOIN_TOKEN_SECRET needs at least 32 characters');
  }
  const keyFile = str('join-token-public-key', 'POLLEN_JOIN_TOKEN_PUBLIC_KEY');
  let publicKey: string | undefined;
  if (keyFile !== undefined) {
    try {
      publicKey = readFileSync(keyFile, 'utf8');
      createPublicKey(publicKey);
    } catch (err) {
      throw new PollenError(
        'INVALID_ARGUMENT',
        `POLLEN_JOIN_TOKEN_PUBLIC_KEY: cannot read a PEM public key from "${keyFile}": ${(err as Error).message}`,
      );
    }
  }
  const issuer = str('join-token-issuer', 'POLLEN_JOIN_TOKEN_ISSUER');
  const limit = (flag: string, name: string, fallback: number): number =>
    expectInt(name, Number(str(flag, name) ?? fallback), 0, 1_000_000);
  return {
    ...(secret !== undefined ? { joinTokenSecret: secret } : {}),
    ...(publicKey !== undefined ? { joinTokenPublicKey: publicKey } : {}),
    ...(issuer !== undefined ? { joinTokenIssuer: issuer } : {}),
    maxConnectionsPerAddress: limit(
      'max-connections-per-address',
      'POLLEN_MAX_CONNECTIONS_PER_ADDRESS',
      DEFAULT_ADDRESS_LIMITS.maxConnections,
    ),
    hellosPerSecondPerAddress: limit(
      'hellos-per-second-per-address',
      'POLLEN_HELLOS_PER_SECOND_PER_ADDRESS',
      DEFAULT_ADDRESS_LIMITS.hellosPerSecond,
    ),
  };
}
