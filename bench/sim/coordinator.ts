import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BenchError } from '../lib/errors.ts';

const COORDINATOR_DIR = resolve(import.meta.dirname, '../../apps/coordinator');
/** Keep the tail of the coordinator's output for error messages, not all of it. */
const MAX_LOG_CHARS = 64 * 1024;
const START_TIMEOUT_MS = 90_000;

/** A coordinator process started for one simulation or benchmark row. */
export interface CoordinatorProcess {
  readonly url: string;
  readonly dataDir: string;
  /** The process id (a benchmark reads its memory from /proc). */
  readonly pid: number;
  /** The operator bearer token this process was started with. */
  readonly token: string;
  /** GET JSON from the API, as the operator. */
  get<T>(path: string): Promise<T>;
  /** Send JSON to the operator API (PATCH a task, POST an action). */
  send<T>(method: 'POST' | 'PATCH', path: string, body?: unknown): Promise<T>;
  /** The last lines the process printed. */
  output(): string;
  /** SIGTERM, SIGKILL after a grace period, then remove the temporary data directory. */
  stop(): Promise<void>;
}

export interface CoordinatorOptions {
  /** Task JSON: fields that override the default MNIST task (docs/tasks.md). */
  readonly task: Record<string, unknown>;
  readonly logLevel?: 'fatal' | 'error' | 'warn' | 'info';
  /** Settings added to the environment (POLLEN_STORE, POLLEN_REDIS_URL, ... for a cluster node). */
  readonly env?: Record<string, string>;
}

/**
 * Start a real coordinator process (`node --import tsx src/main.ts`) on 127.0.0.1 with a
 * fresh temporary data directory, and wait for its POLLEN_LISTENING line.
 */
export async function startCoordinator(options: CoordinatorOptions): Promise<CoordinatorProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pollen-sim-'));
  const taskFile = join(dataDir, 'task.json');
  writeFileSync(taskFile, JSON.stringify(options.task));
  const token = randomBytes(24).toString('hex');
  const args = ['--import', 'tsx', 'src/main.ts', '--host', '127.0.0.1', '--port', '0'];
  args.push('--data-dir', dataDir, '--task', taskFile, '--log-level', options.logLevel ?? 'warn');
  args.push('--operator-token', token);
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: COORDINATOR_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Every simulated device connects from 127.0.0.1: the per-address limits are off here.
    env: {
      ...process.env,
      POLLEN_MAX_CONNECTIONS_PER_ADDRESS: '0',
      POLLEN_HELLOS_PER_SECOND_PER_ADDRESS: '0',
      ...options.env,
    },
  });
  let log = '';
  const append = (d: Buffer): void => {
    log += d.toString();
    if (log.length > 2 * MAX_LOG_CHARS) log = log.slice(-MAX_LOG_CHARS);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // A harness that dies (an uncaught error, Ctrl-C) must not leave a coordinator behind.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const remove = (): void => rmSync(dataDir, { recursive: true, force: true });

  let url: string;
  try {
    url = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(
        () => reject(new BenchError('COORDINATOR_FAILED', `the coordinator did not start in 90 s:\n${log}`)),
        START_TIMEOUT_MS,
      );
      child.stdout!.on('data', () => {
        const match = /POLLEN_LISTENING (\S+)/.exec(log);
        if (match) {
          clearTimeout(timer);
          resolveUrl(match[1]!);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(
          new BenchError('COORDINATOR_FAILED', `the coordinator exited with ${code}:\n${log.slice(-4000)}`),
        );
      });
    });
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    remove();
    throw err;
  }
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(url)) {
    child.kill('SIGKILL');
    remove();
    throw new BenchError('COORDINATOR_FAILED', `the coordinator listens on ${url}, not on 127.0.0.1`);
  }

  return {
    url,
    dataDir,
    pid: child.pid!,
    token,
    get: <T>(path: string) => api<T>(url, path, token),
    async send<T>(method: 'POST' | 'PATCH', path: string, body?: unknown): Promise<T> {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body ?? {}),
      });
      if (!res.ok)
        throw new BenchError('COORDINATOR_FAILED', `${method} ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
    output: () => log.slice(-MAX_LOG_CHARS),
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      remove();
    },
  };
}

/** The message of a failed fetch with its cause (undici says only "fetch failed"). */
function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause ? `${(err as Error).message} (${cause.code ?? cause.message})` : (err as Error).message;
}

/**
 * GET JSON from the coordinator's API (operator routes need the bearer token). A request that
 * fails on the network (a pooled connection the server just closed, say) is tried again, up
 * to 4 times over about 3 s.
 */
export async function api<T>(base: string, path: string, token?: string): Promise<T> {
  const init = token ? { headers: { authorization: `Bearer ${token}` } } : {};
  let res: Response | undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      res = await fetch(`${base}${path}`, init);
      break;
    } catch (err) {
      if (attempt >= 3) throw new BenchError('COORDINATOR_FAILED', `GET ${path}: ${describe(err)}`);
      await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
    }
  }
  if (!res.ok) throw new BenchError('COORDINATOR_FAILED', `GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}
