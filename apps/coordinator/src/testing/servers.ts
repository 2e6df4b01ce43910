import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/**
 * Real PostgreSQL and Redis servers for tests, started from the system's binaries on a free
 * loopback port with a temporary data directory, and stopped (directory removed) after.
 */
export interface TestServer {
  readonly url: string;
  stop(): Promise<void>;
}

/** Poll until `fn` is true or the time is up (standalone: benchmarks import this file too). */
async function until(fn: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Where a binary is: on PATH, else in the given directories. */
function which(name: string, extra: string[] = []): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), ...extra]) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** Debian's PostgreSQL binaries live in /usr/lib/postgresql/<major>/bin, newest first. */
function postgresDirs(): string[] {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return [];
  return readdirSync(base)
    .sort((a, b) => Number(b) - Number(a))
    .map((major) => join(base, major, 'bin'));
}

export function findPostgres(): { initdb: string; postgres: string } | null {
  const initdb = which('initdb', postgresDirs());
  const postgres = which('postgres', postgresDirs());
  return initdb && postgres ? { initdb, postgres } : null;
}

export function findRedis(): string | null {
  return which('redis-server', ['/usr/sbin', '/usr/bin']);
}

/**
 * Why the cluster tests cannot run here, or null when they can. In CI (POLLEN_REQUIRE_SERVERS,
 * set by `npm test`) a missing binary is a failure, never a skip.
 */
export function serversMissing(): string | null {
  const missing = [
    findPostgres() ? null : 'PostgreSQL (initdb, postgres)',
    findRedis() ? null : 'redis-server',
  ];
  const what = missing.filter((m) => m !== null);
  if (what.length === 0) return null;
  const reason = `${what.join(' and ')} not found: apt-get install -y postgresql redis-server`;
  if (process.env.POLLEN_REQUIRE_SERVERS) throw new Error(reason);
  return reason;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** initdb and postgres refuse to run as root: as root, run them as the `postgres` user. */
function asPostgresUser(command: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [command, args];
  return ['runuser', ['-u', 'postgres', '--', command, ...args]];
}

function postgresIds(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

async function exited(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Start a server, keep its output, and wait for its ready line; the returned stop signals it,
 * waits for it to exit and removes its directory. A server that exits or never gets ready is
 * stopped and its output thrown. `names`: what the wait and the exit are called in errors.
 */
async function launch(options: {
  readonly command: readonly [string, readonly string[]];
  readonly ready: RegExp;
  readonly timeoutMs: number;
  readonly names: readonly [string, string];
  readonly dir: string;
  readonly signal: (child: ChildProcess) => void;
}): Promise<() => Promise<void>> {
  const [cmd, args] = options.command;
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (d: Buffer): void => {
    log += d.toString();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const stop = async (): Promise<void> => {
    options.signal(child);
    await exited(child, 10_000);
    rmSync(options.dir, { recursive: true, force: true });
  };
  const [waitName, exitName] = options.names;
  try {
    await until(
      () => options.ready.test(log) || child.exitCode !== null,
      options.timeoutMs,
      `${waitName}: ${log}`,
    );
    if (child.exitCode !== null) throw new Error(`${exitName} exited: ${log}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return stop;
}

/**
 * A throwaway PostgreSQL: trust authentication on 127.0.0.1 only, durability off (the tests
 * crash coordinators, not the database), database `postgres`, user `pollen`.
 */
export async function startPostgres(): Promise<TestServer> {
  const bins = findPostgres();
  if (!bins) throw new Error('PostgreSQL binaries not found');
  const dir = mkdtempSync(join(tmpdir(), 'pollen-pg-'));
  const data = join(dir, 'data');
  if (process.getuid?.() === 0) {
    const { uid, gid } = postgresIds();
    chownSync(dir, uid, gid);
  }
  const [initCmd, initArgs] = asPostgresUser(bins.initdb, [
    '-D',
    data,
    '-U',
    'pollen',
    '--auth=trust',
    '-E',
    'UTF8',
    '--no-sync',
    '--no-instructions',
  ]);
  execFileSync(initCmd, initArgs, { stdio: 'pipe' });
  const port = await freePort();
  const [cmd, args] = asPostgresUser(bins.postgres, [
    '-D',
    data,
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    `unix_socket_directories=${dir}`,
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
    '-c',
    'max_connections=200',
  ]);
  const stop = await launch({
    command: [cmd, args],
    ready: /ready to accept connections/,
    timeoutMs: 30_000,
    names: ['postgres', 'postgres'],
    dir,
    // Signal the postmaster itself (runuser may not pass signals on): SIGINT is a fast shutdown.
    signal: (child) => {
      try {
        const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
        if (pid > 0) process.kill(pid, 'SIGINT');
      } catch {
        child.kill('SIGINT');
      }
    },
  });
  return { url: `postgres://pollen@127.0.0.1:${port}/postgres`, stop };
}

/** A throwaway redis-server on 127.0.0.1, nothing persisted. */
export async function startRedis(): Promise<TestServer> {
  const bin = findRedis();
  if (!bin) throw new Error('redis-server not found');
  const dir = mkdtempSync(join(tmpdir(), 'pollen-redis-'));
  const port = await freePort();
  const stop = await launch({
    command: [
      bin,
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
    ],
    ready: /Ready to accept connections/i,
    timeoutMs: 15_000,
    names: ['redis', 'redis-server'],
    dir,
    signal: (child) => child.kill('SIGTERM'),
  });
  return { url: `redis://127.0.0.1:${port}`, stop };
}
