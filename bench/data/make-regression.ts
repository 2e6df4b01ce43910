import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { REGRESSION_DEFAULTS, regressionCsv } from './regression.ts';

/**
 * Write the synthetic regression CSV `pnpm sim --task bench/tasks/regression.task.json` trains
 * on: `pnpm --filter @pollen/bench --silent make-regression [--out FILE] [--rows N] [--users U] [--seed S]`
 * (default bench/data/regression.csv; paths relative to where the command was typed).
 */
function main(): void {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      rows: { type: 'string' },
      users: { type: 'string' },
      seed: { type: 'string' },
    },
    strict: true,
  });
  const int = (
    name: string,
    text: string | undefined,
    fallback: number,
    min: number,
    max: number,
  ): number => {
    const value = text === undefined ? fallback : Number(text);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(`"--${name}" expected an integer in [${min}, ${max}], got ${text}`);
    }
    return value;
  };
  const options = {
    rows: int('rows', values.rows, REGRESSION_DEFAULTS.rows, 1, 1_000_000),
    users: int('users', values.users, REGRESSION_DEFAULTS.users, 1, 100_000),
    seed: int('seed', values.seed, REGRESSION_DEFAULTS.seed, 0, 0xffffffff),
  };
  const cwd = process.env.INIT_CWD ?? process.cwd();
  const out = values.out ? resolve(cwd, values.out) : resolve(import.meta.dirname, 'regression.csv');
  mkdirSync(dirname(out), { recursive: true });
  const csv = regressionCsv(options);
  writeFileSync(out, csv);
  process.stderr.write(
    `wrote ${options.rows} rows (${options.users} users, seed ${options.seed}) to ${out}\n`,
  );
}

try {
  main();
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
