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
                     without one, a random token is made and kept in DATA_DIR/operator-token`;

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
  return {
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
