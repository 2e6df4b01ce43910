import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './harness.ts';

/**
 * What to run: npm test runs the build it just made (POLLEN_USE_BUILD), which is what ships and
 * starts faster; a test run on its own runs the sources through tsx, so never a stale build.
 */
const ENTRY = process.env.POLLEN_USE_BUILD
  ? [fileURLToPath(new URL('../../dist/main.js', import.meta.url))]
  : ['--import', 'tsx', fileURLToPath(new URL('../main.ts', import.meta.url))];

export interface CoordinatorProcess {
  readonly url: string;
  /** SIGKILL: no shutdown hook runs, exactly like a crash. */
  kill(): Promise<void>;
  output(): string;
}

/**
 * Start the real coordinator process and wait until it listens; `env` adds settings
 * (POLLEN_STORE, POLLEN_REDIS_URL, ...) to this process's environment.
 */
export async function launchCoordinator(
  dataDir: string,
  taskFile: string,
  env: Record<string, string> = {},
): Promise<CoordinatorProcess> {
  const child = spawn(
    process.execPath,
    [...ENTRY, '--port', '0', '--data-dir', dataDir, '--task', taskFile, '--log-level', 'warn'],
    {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await waitFor(() => /POLLEN_LISTENING (\S+)/.exec(out)?.[1], 60_000).catch((err: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${err.message}: ${out}`);
  });
  return {
    url,
    output: () => out,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * A temporary data directory holding a task file for the tiny MLP task with these round
 * settings; returns both paths. The caller removes the directory.
 */
export function tinyTaskDir(
  prefix: string,
  rounds: Record<string, unknown>,
): { dataDir: string; taskFile: string } {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  const taskFile = join(dataDir, 'task.json');
  writeFileSync(taskFile, JSON.stringify({ id: 'tiny', model: { kind: 'mlp', hidden: [8] }, rounds }));
  return { dataDir, taskFile };
}
