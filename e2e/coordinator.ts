import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Browser, expect, type Page } from '@playwright/test';

const COORDINATOR_DIR = resolve(import.meta.dirname, '../apps/coordinator');
/** The operator token of every coordinator the specs start. */
export const OPERATOR_TOKEN = 'e2e-operator-token-0123456789abcdef';

export interface RunningCoordinator {
  readonly url: string;
  readonly dataDir: string;
  /** Stop the process (SIGTERM, then SIGKILL after a grace period). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Everything the process printed, for failure messages. */
  output(): string;
}

export interface CoordinatorOptions {
  /** Task JSON (fields override the default MNIST task). */
  readonly task?: Record<string, unknown>;
  /** Reuse a data directory (to test restarts). */
  readonly dataDir?: string;
  readonly port?: number;
  /** Settings added to the environment (POLLEN_JOIN_TOKEN_SECRET, ...). */
  readonly env?: Record<string, string>;
}

/** Start a real coordinator process on 127.0.0.1 and wait until it listens. */
export async function startCoordinator(options: CoordinatorOptions = {}): Promise<RunningCoordinator> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'pollen-e2e-'));
  // npm test runs the build it just made (POLLEN_USE_BUILD), which is what ships; a spec run on
  // its own runs the sources through tsx, so it never tests a stale build.
  const entry = process.env.POLLEN_USE_BUILD ? ['dist/main.js'] : ['--import', 'tsx', 'src/main.ts'];
  const args = [...entry, '--host', '127.0.0.1', '--port', String(options.port ?? 0)];
  args.push('--data-dir', dataDir, '--log-level', 'info', '--operator-token', OPERATOR_TOKEN);
  if (options.task) {
    const file = join(dataDir, 'task.json');
    writeFileSync(file, JSON.stringify(options.task));
    args.push('--task', file);
  }
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: COORDINATOR_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Specs wait on held-out evaluations, on a machine the other specs keep busy: the
    // evaluator runs at the process's priority (docs/operating.md, --evaluator-nice).
    env: { POLLEN_EVALUATOR_NICE: '0', ...process.env, ...options.env },
  });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => {
    log += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    log += d.toString();
  });
  const url = await new Promise<string>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`coordinator did not start in 90 s:\n${log}`)), 90_000);
    const onData = (): void => {
      const match = /POLLEN_LISTENING (\S+)/.exec(log);
      if (match) {
        clearTimeout(timer);
        resolvePromise(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`coordinator exited with ${code}:\n${log}`));
    });
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    url,
    dataDir,
    output: () => log,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/**
 * Run `fn` against a fresh coordinator; print the coordinator's log tail if it fails, and
 * always stop the process and remove its data directory.
 */
export async function withCoordinator(
  options: CoordinatorOptions,
  fn: (coordinator: RunningCoordinator) => Promise<void>,
): Promise<void> {
  const coordinator = await startCoordinator(options);
  try {
    await fn(coordinator);
  } catch (err) {
    console.error(coordinator.output().slice(-4000));
    throw err;
  } finally {
    await coordinator.stop();
    removeDataDir(coordinator.dataDir);
  }
}

/** Remove a temporary data directory. */
export function removeDataDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Fetch JSON from the coordinator's API as the operator. */
export async function api<T>(base: string, path: string): Promise<T> {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/**
 * Wait until a task has run its rounds (its status `completed`), polling the operator API with
 * `poll`'s timeout and intervals (Playwright's `expect.poll` defaults where not given).
 */
export async function untilCompleted(
  base: string,
  taskId: string,
  poll: { timeout?: number; intervals?: number[] } = {},
): Promise<void> {
  await expect
    .poll(async () => (await api<{ status: string }>(base, `/api/tasks/${taskId}`)).status, poll)
    .toBe('completed');
}

/** A round record as the specs read it from the operator API. */
export interface ApiRound {
  readonly status: string;
  readonly metrics: Record<string, number> | null;
  readonly evaluationMs?: number;
}

/**
 * A task's round records once the held-out evaluation of its last committed round attached
 * (metrics attach after the commit; an earlier version may have been skipped for a newer one
 * and keep null metrics: docs/design.md, "Evaluation off the commit path").
 */
export async function evaluatedRounds<R extends ApiRound>(base: string, taskId: string): Promise<R[]> {
  const until = Date.now() + 60_000;
  for (;;) {
    const rounds = await api<R[]>(base, `/api/tasks/${taskId}/rounds`);
    const last = rounds.filter((r) => r.status === 'committed').at(-1);
    if (last?.evaluationMs !== undefined) return rounds;
    if (Date.now() > until) throw new Error(`${taskId}: the last committed round was not evaluated in 60 s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Sign in to a task's dashboard in a context of its own, run `fn` on the page, then close it. */
export async function withDashboard(
  browser: Browser,
  base: string,
  taskId: string,
  fn: (dashboard: Page) => Promise<void>,
): Promise<void> {
  const operator = await browser.newContext();
  try {
    const dashboard = await operator.newPage();
    await dashboard.goto(`${base}/dashboard?task=${taskId}`);
    await dashboard.locator('#token').fill(OPERATOR_TOKEN);
    await dashboard.locator('#login-form button').click();
    await fn(dashboard);
  } finally {
    await operator.close();
  }
}
