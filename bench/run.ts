import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BenchError } from './lib/errors.ts';
import { RESULTS_DIR } from './lib/paths.ts';
import { type BenchOptions, runBench, SUITES } from './lib/run-bench.ts';

/**
 * `pnpm bench`: every suite, each figure a ratio against a baseline measured in the same run,
 * median of several runs; writes bench/results/latest.json and latest.md and prints a
 * one-line JSON summary last.
 */

function parseBenchArgs(argv: readonly string[]): Omit<BenchOptions, 'log'> & { quiet: boolean } {
  const { values } = parseArgs({
    args: argv.filter((a) => a !== '--'),
    strict: true,
    options: {
      tiny: { type: 'boolean' },
      runs: { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string' },
      quiet: { type: 'boolean' },
    },
  });
  const tiny = values.tiny === true;
  const runs = Number(values.runs ?? (tiny ? 1 : 3));
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) {
    throw new BenchError('INVALID_OPTION', `"--runs" expected an integer in [1, 20], got ${values.runs}`);
  }
  const only = values.only ? values.only.split(',') : [];
  const unknown = only.filter((id) => !SUITES.some((s) => s.id === id));
  if (unknown.length) {
    throw new BenchError(
      'INVALID_OPTION',
      `"--only" expected suites among ${SUITES.map((s) => s.id).join(', ')}, got ${unknown.join(', ')}`,
    );
  }
  const cwd = process.env.INIT_CWD ?? process.cwd();
  return {
    tiny,
    runs,
    only,
    outDir: values.out ? resolve(cwd, values.out) : RESULTS_DIR,
    quiet: values.quiet === true,
  };
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  let parsed: ReturnType<typeof parseBenchArgs>;
  try {
    parsed = parseBenchArgs(argv);
  } catch (err) {
    process.stderr.write(
      `${(err as Error).message}\nusage: pnpm bench [--runs N] [--only ${SUITES.map((s) => s.id).join(',')}] [--tiny] [--out DIR]\n`,
    );
    return 2;
  }
  const log = (line: string): void => {
    if (!parsed.quiet) process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  };
  const results = await runBench({ ...parsed, log }, `pnpm bench ${argv.join(' ')}`.trim());
  const cwd = process.env.INIT_CWD ?? process.cwd();
  const shown = (path: string): string => (relative(cwd, path).startsWith('..') ? path : relative(cwd, path));
  process.stdout.write(
    `${JSON.stringify({
      bench: results.failures.length ? 'failed' : 'done',
      rows: results.rows.length,
      waiting: results.rows.filter((r) => r.waitsOn).length,
      failed: results.failures.map((f) => f.suite),
      durationS: Math.round(results.durationS),
      json: shown(join(parsed.outDir, 'latest.json')),
      md: shown(join(parsed.outDir, 'latest.md')),
    })}\n`,
  );
  return results.failures.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`pnpm bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
