#!/usr/bin/env node
// The two commands of README.md, runnable on a machine that has only Node 20 and npm:
//   node scripts/pollen.mjs start   install what is missing, build (web client, coordinator), run Pollen
//   node scripts/pollen.mjs test    install what is missing, run every check and test, print a summary
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';

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
  // Without Debian's recommends (printing, audio, a desktop's session services), which a
  // headless browser does not use; a font family so that pages lay out text as they would.
  if (!existsSync(CHROMIUM)) missing.push('chromium', 'fonts-liberation');
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
  must('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
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

/** Every tracked or new (not ignored) file the build reads, hashed: the build is current when it matches. */
function sourceDigest() {
  const listed = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (listed.status !== 0) return null; // not a git checkout: always build
  const hash = createHash('sha256');
  for (const file of listed.stdout.split('\0').sort()) {
    if (!file || file.startsWith('e2e/') || file.endsWith('.md') || file.includes('.test.')) continue;
    if (!existsSync(join(ROOT, file))) continue; // deleted, not yet staged
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(join(ROOT, file)))
      .update('\0');
  }
  return hash.digest('hex');
}

const BUILD_STAMP = join(ROOT, 'node_modules', '.cache', 'pollen', 'build-digest');
const BUILD_OUTPUTS = ['apps/web-client/dist/index.html', 'apps/coordinator/dist/main.js'];

/** `pnpm build` unless its outputs exist and were built from exactly these sources. */
function buildIfStale() {
  const digest = sourceDigest();
  const current =
    digest !== null &&
    BUILD_OUTPUTS.every((file) => existsSync(join(ROOT, file))) &&
    existsSync(BUILD_STAMP) &&
    readFileSync(BUILD_STAMP, 'utf8') === digest;
  if (current) {
    say('the build is up to date with the sources');
    return;
  }
  say('building the web client and the coordinator');
  mustPnpm(['build']);
  stampBuild(digest);
}

function stampBuild(digest) {
  if (digest === null) return;
  mkdirSync(dirname(BUILD_STAMP), { recursive: true });
  writeFileSync(BUILD_STAMP, digest);
}

/**
 * Run the built coordinator (node, no TypeScript loader) with the flags given after `--`. Its
 * logs are JSON lines; at a terminal they go through pino-pretty for a person to read
 * (POLLEN_LOG_FORMAT=json keeps them raw).
 */
async function start() {
  install();
  buildIfStale();
  const args = process.argv.slice(3);
  // The store and the operator token live in .data at the top of the checkout unless told otherwise.
  const env = { ...process.env, POLLEN_DATA_DIR: process.env.POLLEN_DATA_DIR ?? join(ROOT, '.data') };
  const pretty = process.stdout.isTTY && process.env.POLLEN_LOG_FORMAT !== 'json';
  say('starting Pollen (contributor page /, dashboard /dashboard)');
  const child = spawn(process.execPath, [join(ROOT, 'apps/coordinator/dist/main.js'), ...args], {
    cwd: ROOT,
    env,
    stdio: ['inherit', pretty ? 'pipe' : 'inherit', 'inherit'],
  });
  if (pretty) {
    const { default: pinoPretty } = await import('pino-pretty');
    child.stdout.pipe(pinoPretty({ colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' }));
  }
  // The coordinator closes cleanly on SIGINT and SIGTERM: pass them on and wait for it.
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

/**
 * Vitest's three layers (vitest.config.ts), each timed on its own, in the order they run: the
 * system tests, which wait on processes, kills and lease expiries, beside the browser specs, which
 * keep both cores busy; the integration tests, which keep both cores busy themselves, last, where
 * the system tests alone left a core idle for much of their waiting.
 */
const VITEST_LAYERS = [
  ['unit', 'unit tests (vitest: pure code)'],
  ['system', 'system tests (vitest: processes, PostgreSQL and Redis, the start commands)'],
  ['integration', 'integration tests (vitest: a coordinator in process)'],
];

/**
 * Every check and test, then one summary line. Lint and build come first; then the browser
 * specs (which spend most of their time waiting on rounds and deadlines) and the typecheck
 * (one tsc process) run in the background, their output printed when each ends, beside the
 * Vitest layers, which run one after the other (docs/getting-started.md).
 */
async function test() {
  ensureSystemPackages();
  // The cluster tests fail instead of skipping when PostgreSQL or Redis cannot be started.
  process.env.POLLEN_REQUIRE_SERVERS = '1';
  install();
  // One MNIST cache for Vitest and Playwright alike: converted once, removed at the end.
  const mnistCache = mkdtempSync(join(tmpdir(), 'pollen-mnist-test-'));
  process.env.POLLEN_MNIST_CACHE = mnistCache;
  const checks = [];
  const step = async (name, args) => {
    say(name);
    checks.push(await timed(name, args, 'inherit'));
    return checks.at(-1).ok;
  };
  const results = [
    ...VITEST_LAYERS.map(([layer]) => `test-results/${layer}-results.json`),
    'test-results/e2e-results.json',
  ];
  for (const file of results) rmSync(join(ROOT, file), { force: true });

  await step('lint and format check (biome)', ['lint']);
  const digest = sourceDigest();
  const built = await step('build the web client (vite) and the coordinator (esbuild)', ['build']);
  const background = [];
  if (built) {
    stampBuild(digest);
    // The system and browser tests start the coordinator from this build (what ships).
    process.env.POLLEN_USE_BUILD = '1';
    background.push(
      inBackground('browser end-to-end tests (playwright, Chromium)', ['exec', 'playwright', 'test'], 'e2e'),
    );
  }
  background.push(inBackground('typecheck (tsc, every package)', ['typecheck'], 'typecheck'));
  for (const [layer, name] of VITEST_LAYERS) {
    await step(name, [
      'exec',
      'vitest',
      'run',
      '--project',
      layer,
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=test-results/${layer}-results.json`,
    ]);
  }
  checks.push(...(await Promise.all(background)));
  if (!built)
    checks.push({ name: 'browser end-to-end tests (skipped: the build failed)', ok: false, seconds: 0 });
  rmSync(mnistCache, { recursive: true, force: true });

  let passed = 0;
  let failed = 0;
  let skipped = 0;
  // Each failed test by file and name, so the summary (often all a CI log keeps) says which.
  const failures = [];
  for (const [layer] of VITEST_LAYERS) {
    const unit = readJson(`test-results/${layer}-results.json`);
    if (!unit) continue;
    passed += unit.numPassedTests ?? 0;
    failed += unit.numFailedTests ?? 0;
    skipped += (unit.numPendingTests ?? 0) + (unit.numTodoTests ?? 0);
    for (const file of unit.testResults ?? []) {
      const name = relative(ROOT, file.name);
      const failedTests = (file.assertionResults ?? []).filter((t) => t.status === 'failed');
      for (const t of failedTests) failures.push(`${layer}: ${name}: ${t.fullName}`);
      // A file that failed to load (or in a hook) has no failed test to name.
      if (file.status === 'failed' && failedTests.length === 0)
        failures.push(`${layer}: ${name}: ${file.message}`);
    }
  }
  const e2e = readJson('test-results/e2e-results.json');
  if (e2e?.stats) {
    passed += (e2e.stats.expected ?? 0) + (e2e.stats.flaky ?? 0);
    failed += e2e.stats.unexpected ?? 0;
    skipped += e2e.stats.skipped ?? 0;
    for (const { file, title, seconds, error } of playwrightFailures(e2e.suites ?? []))
      failures.push(`browser: ${file}: ${title} (${seconds} s): ${error}`);
  }
  say('summary');
  for (const c of checks) {
    process.stdout.write(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.seconds.toFixed(0).padStart(4)} s  ${c.name}\n`);
  }
  for (const f of failures) process.stdout.write(`  failed: ${f.split('\n')[0].slice(0, 400)}\n`);
  const ok = checks.every((c) => c.ok) && failed === 0;
  process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  process.exit(ok ? 0 : 1);
}

/** Playwright's unexpected results in its JSON report: file, title, seconds and first error line. */
function playwrightFailures(suites, file) {
  const out = [];
  for (const suite of suites) {
    const at = file ?? suite.file;
    for (const spec of suite.specs ?? [])
      for (const t of spec.tests ?? [])
        if (t.status === 'unexpected') {
          const last = t.results?.at(-1);
          const error = stripVTControlCharacters(last?.error?.message ?? last?.status ?? '');
          out.push({ file: at, title: spec.title, seconds: Math.round((last?.duration ?? 0) / 1000), error });
        }
    out.push(...playwrightFailures(suite.suites ?? [], at));
  }
  return out;
}

/** Run a pnpm step to its end without blocking the event loop: resolves to its check. */
function timed(name, args, stdio) {
  const began = performance.now();
  const child = spawn(pnpmBin, [...pnpmPrefix, ...args], { cwd: ROOT, stdio });
  return new Promise((resolve) => {
    let ended = false;
    const done = (status) => {
      if (ended) return;
      ended = true;
      resolve({ name, ok: status === 0, seconds: (performance.now() - began) / 1000 });
    };
    child.on('error', () => done(1));
    child.on('exit', (code) => done(code ?? 1));
  });
}

/** Start a pnpm step whose output goes to test-results/<log>.log, printed once it ends. */
async function inBackground(name, args, log) {
  say(`${name}: started in the background, its output follows when it ends`);
  const path = join(ROOT, 'test-results', `${log}.log`);
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'w');
  const check = await timed(name, args, ['ignore', fd, fd]);
  closeSync(fd);
  say(name);
  process.stdout.write(readFileSync(path));
  return check;
}

const command = process.argv[2];
if (command === 'start') await start();
else if (command === 'test') await test();
else {
  process.stderr.write('usage: node scripts/pollen.mjs start|test\n');
  process.exit(2);
}
