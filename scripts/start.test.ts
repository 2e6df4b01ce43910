import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

// The documented ways to start Pollen, each run as a person would type it: the real command in
// its own process group, waited on until /healthz answers, then stopped (SIGTERM to the group,
// SIGKILL after a grace) so no coordinator outlives its test.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const COORDINATOR = join(ROOT, 'apps/coordinator');
const STARTUP_MS = 90_000;

interface Started {
  readonly child: ChildProcess;
  output(): string;
}

const running: Started[] = [];
const dataDirs: string[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map(stop));
  for (const dir of dataDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A TCP port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pollen-start-'));
  dataDirs.push(dir);
  return dir;
}

function launch(command: string, args: string[], env: Record<string, string> = {}, cwd = ROOT): Started {
  const child = spawn(command, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: npm, the script and the coordinator stop together
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const started = { child, output: () => out };
  running.push(started);
  return started;
}

async function stop({ child }: Started): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const group = -child.pid;
  try {
    process.kill(group, 'SIGTERM');
  } catch {
    return; // already gone
  }
  const killed = setTimeout(() => {
    try {
      process.kill(group, 'SIGKILL');
    } catch {}
  }, 10_000);
  await exited;
  clearTimeout(killed);
}

/** Poll `url` until it answers 200 (or the process exits, or the time runs out). */
async function waitForHealth(started: Started, url: string): Promise<unknown> {
  const deadline = Date.now() + STARTUP_MS;
  while (Date.now() < deadline) {
    if (started.child.exitCode !== null) {
      throw new Error(`exited with ${started.child.exitCode} before ${url} answered:\n${started.output()}`);
    }
    try {
      const res = await fetch(url);
      if (res.ok) return await res.json();
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url} did not answer within ${STARTUP_MS / 1000} s:\n${started.output()}`);
}

async function expectServesPollen(base: string): Promise<void> {
  const page = await fetch(`${base}/`);
  expect(page.status).toBe(200);
  expect(await page.text()).toMatch(/<html/i);
}

describe('npm start', () => {
  it('takes flags after --: npm start -- --port P', { timeout: STARTUP_MS + 60_000 }, async () => {
    const port = await freePort();
    const started = launch('npm', ['start', '--', '--port', String(port)], { POLLEN_DATA_DIR: dataDir() });
    const health = await waitForHealth(started, `http://127.0.0.1:${port}/healthz`);
    expect(health).toMatchObject({ ok: true, tasks: 1 });
    await expectServesPollen(`http://127.0.0.1:${port}`);
    // Not at a terminal: the logs stay JSON lines, one object each.
    const logLine = started
      .output()
      .split('\n')
      .find((line) => line.startsWith('{'));
    expect(JSON.parse(logLine ?? 'null')).toMatchObject({ level: 30 });
  });

  it('reads the environment: POLLEN_PORT=P POLLEN_HOST=127.0.0.1 npm start', {
    timeout: STARTUP_MS + 60_000,
  }, async () => {
    const port = await freePort();
    const started = launch('npm', ['start'], {
      POLLEN_PORT: String(port),
      POLLEN_HOST: '127.0.0.1',
      POLLEN_DATA_DIR: dataDir(),
      POLLEN_LOG_LEVEL: 'warn',
    });
    expect(await waitForHealth(started, `http://127.0.0.1:${port}/healthz`)).toMatchObject({ ok: true });
    // The log level came from the environment too: no info line.
    expect(started.output()).not.toMatch(/"level":30/);
  });
});

describe('the production build', () => {
  const main = join(COORDINATOR, 'dist/main.js');

  /** Start a built coordinator on a free port and check it serves the page and /healthz. */
  async function expectRuns(command: string, args: string[]): Promise<void> {
    expect(existsSync(main), 'run pnpm build first').toBe(true);
    const started = launch(command, [...args, '--port', '0', '--data-dir', dataDir()]);
    const deadline = Date.now() + STARTUP_MS;
    let base: string | undefined;
    while (!base && Date.now() < deadline && started.child.exitCode === null) {
      base = /POLLEN_LISTENING (\S+)/.exec(started.output())?.[1];
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(base, started.output()).toBeDefined();
    expect(await waitForHealth(started, `${base}/healthz`)).toMatchObject({ ok: true, tasks: 1 });
    await expectServesPollen(base!);
  }

  it('runs without tsx: node apps/coordinator/dist/main.js --port 0', { timeout: STARTUP_MS }, async () => {
    // The bundle loads no TypeScript at run time.
    expect(readFileSync(main, 'utf8')).not.toMatch(/["']tsx|\.ts["']/);
    await expectRuns(process.execPath, [main]);
  });

  it("is the coordinator package's bin, runnable on its own", () => {
    const manifest = JSON.parse(readFileSync(join(COORDINATOR, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    // The same file the test above ran, with a #! line and the execute bit, as npm links bins.
    expect(join(COORDINATOR, manifest.bin['pollen-coordinator']!)).toBe(main);
    expect(readFileSync(main, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(statSync(main).mode & 0o111).toBe(0o111);
  });
});
