import { BenchError } from './lib/errors.ts';
import { parseSimArgs, type SimOptions } from './sim/options.ts';
import { runSim } from './sim/run.ts';

/**
 * `pnpm sim`: simulate a population of Node clients or Chromium tabs against a real
 * coordinator, write a JSON report and an HTML plot, and print a one-line JSON summary last.
 * Progress goes to stderr; stdout carries only the summary.
 */
async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  let options: SimOptions;
  try {
    options = parseSimArgs(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return err instanceof BenchError ? 2 : 1;
  }
  const log = (line: string): void => {
    if (!options.quiet) process.stderr.write(`[sim ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  };
  let report: Awaited<ReturnType<typeof runSim>>;
  try {
    report = await runSim(options, { command: `pnpm sim ${argv.join(' ')}`.trim(), log });
  } catch (err) {
    // A task or data file that cannot be used is refused before anything starts.
    if (!(err instanceof BenchError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return 2;
  }
  if (report.error) process.stderr.write(`simulation failed: ${report.error}\n`);
  log(`report ${report.summary.report}, plot ${report.summary.plot}`);
  process.stdout.write(`${JSON.stringify(report.summary)}\n`);
  return report.summary.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`pnpm sim failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
