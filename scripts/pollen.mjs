#!/usr/bin/env node
// The two commands of README.md, runnable on a machine that has only Node 20 and npm:
//   node scripts/pollen.mjs start   install what is missing, build the web client, run Pollen
//   node scripts/pollen.mjs test    install what is missing, run every check and test, print a summary
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PNPM_VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).packageManager.split(
  '@',
)[1];
const CHROMIUM = process.env.POLLEN_CHROMIUM ?? '/usr/bin/chromium';

function say(message) {
  process.stdout.write(`\n[pollen] ${message}\n`);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function must(command, args, options) {
  const status = run(command, args, options);
  if (status !== 0) {
    say(`${command} ${args.join(' ')} failed with exit code ${status}`);
    process.exit(status);
  }
}

/** pnpm 10 as pinned in package.json: the installed one when it matches, else through npx. */
function pnpmCommand() {
  const probe = spawnSync('pnpm', ['--version'], { cwd: ROOT, encoding: 'utf8' });
  if (probe.status === 0 && probe.stdout.trim() === PNPM_VERSION) return ['pnpm', []];
  return ['npx', ['--yes', `pnpm@${PNPM_VERSION}`]];
}

const [pnpmBin, pnpmPrefix] = pnpmCommand();
const pnpm = (args, options) => run(pnpmBin, [...pnpmPrefix, ...args], options);
const mustPnpm = (args, options) => must(pnpmBin, [...pnpmPrefix, ...args], options);

function install() {
  say(`installing packages with pnpm ${PNPM_VERSION}`);
  mustPnpm(['install', '--frozen-lockfile', '--prefer-offline']);
}

/** PostgreSQL's server binaries: on PATH, or where Debian keeps them (/usr/lib/postgresql/<major>/bin). */
function hasPostgres() {
  const probe = spawnSync('sh', ['-c', 'command -v initdb && command -v postgres'], { encoding: 'utf8' });
  if (probe.status === 0) return true;
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return false;
  return readdirSync(base).some((major) => existsSync(join(base, major, 'bin', 'postgres')));
}

function hasRedis() {
  return spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).status === 0;
}

/**
 * What the tests need from Debian: chromium for the browser tests, PostgreSQL and redis-server
 * for the cluster tests (which start their own servers on free loopback ports). A machine that
 * has them is left alone; otherwise one `apt-get update` and one install, as root.
 */
function ensureSystemPackages() {
  const missing = [];
  if (!existsSync(CHROMIUM)) missing.push('chromium');
  if (!hasPostgres()) missing.push('postgresql');
  if (!hasRedis()) missing.push('redis-server');
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    say(
      `missing ${missing.join(', ')}: install them (sudo apt-get install -y ${missing.join(' ')})` +
        (missing.includes('chromium') ? ' or set POLLEN_CHROMIUM' : ''),
    );
    process.exit(1);
  }
  say(`installing Debian's ${missing.join(', ')} for the tests`);
  must('apt-get', ['update', '-qq']);
  must('apt-get', ['install', '-y', '-qq', ...missing], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(join(ROOT, path), 'utf8'));
  } catch {
    return null;
  }
}

function start() {
  install();
  say('building the web client');
  mustPnpm(['build']);
  const extra = process.argv.slice(3);
  say('starting Pollen on http://localhost:8080 (contributor page /, dashboard /dashboard)');
  // The store and the operator token live in .data at the top of the checkout unless told otherwise.
  const env = { ...process.env, POLLEN_DATA_DIR: process.env.POLLEN_DATA_DIR ?? join(ROOT, '.data') };
  process.exit(pnpm(['--filter', '@pollen/coordinator', 'start', '--', ...extra], { env }));
}

function test() {
  ensureSystemPackages();
  // The cluster tests fail instead of skipping when PostgreSQL or Redis cannot be started.
  process.env.POLLEN_REQUIRE_SERVERS = '1';
  install();
  const checks = [];
  const step = (name, args) => {
    say(name);
    const status = pnpm(args);
    checks.push({ name, ok: status === 0 });
    return status === 0;
  };
  step('lint and format check (biome)', ['lint']);
  step('typecheck (tsc, every package)', ['typecheck']);
  const built = step('build the web client (vite)', ['build']);
  step('unit and integration tests (vitest)', [
    'exec',
    'vitest',
    'run',
    '--reporter=default',
    '--reporter=json',
    '--outputFile.json=test-results/unit-results.json',
  ]);
  if (built) step('browser end-to-end tests (playwright, Chromium)', ['exec', 'playwright', 'test']);
  else checks.push({ name: 'browser end-to-end tests (skipped: the build failed)', ok: false });

  const unit = readJson('test-results/unit-results.json');
  const e2e = readJson('test-results/e2e-results.json');
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  if (unit) {
    passed += unit.numPassedTests ?? 0;
    failed += unit.numFailedTests ?? 0;
    skipped += (unit.numPendingTests ?? 0) + (unit.numTodoTests ?? 0);
  }
  if (e2e?.stats) {
    passed += (e2e.stats.expected ?? 0) + (e2e.stats.flaky ?? 0);
    failed += e2e.stats.unexpected ?? 0;
    skipped += e2e.stats.skipped ?? 0;
  }
  say('summary');
  for (const c of checks) process.stdout.write(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}\n`);
  const ok = checks.every((c) => c.ok) && failed === 0;
  process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  process.exit(ok ? 0 : 1);
}

const command = process.argv[2];
if (command === 'start') start();
else if (command === 'test') test();
else {
  process.stderr.write('usage: node scripts/pollen.mjs start|test\n');
  process.exit(2);
}
