import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { aggregationSuite } from '../rows/aggregation.ts';
import { asyncSuite } from '../rows/async.ts';
import { backendsSuite } from '../rows/backends.ts';
import { bigModelsSuite } from '../rows/big-models.ts';
import { capacitySuite } from '../rows/capacity.ts';
import { commitLatencySuite } from '../rows/commit-latency.ts';
import { compressionSuite } from '../rows/compression.ts';
import { secAggSuite } from '../rows/secagg.ts';
import { secAggBrowserSuite } from '../rows/secagg-browser.ts';
import { secAggUnmaskSuite } from '../rows/secagg-unmask.ts';
import { timeToAccuracySuite } from '../rows/time-to-accuracy.ts';
import type { BenchRow, Suite } from '../rows/types.ts';
import { describeMachine } from './machine.ts';
import { markdownTable } from './table.ts';

/** Every suite, in table order. */
export const SUITES: readonly Suite[] = [
  timeToAccuracySuite,
  backendsSuite,
  aggregationSuite,
  compressionSuite,
  secAggSuite,
  secAggUnmaskSuite,
  secAggBrowserSuite,
  asyncSuite,
  capacitySuite,
  commitLatencySuite,
  bigModelsSuite,
];

export interface BenchOptions {
  /** Small sizes and one run: the smoke variant the test suite runs. */
  readonly tiny: boolean;
  readonly runs: number;
  /** Suite ids to run; all when empty. */
  readonly only: readonly string[];
  readonly outDir: string;
  readonly log: (line: string) => void;
}

export interface BenchResults {
  readonly generatedAt: string;
  readonly command: string;
  readonly durationS: number;
  readonly machine: ReturnType<typeof describeMachine>;
  /** The 1-minute load average, sampled every 5 s through the run: other work on the machine skews timings. */
  readonly loadAverage: { readonly mean: number; readonly max: number };
  readonly options: { readonly tiny: boolean; readonly runs: number; readonly only: readonly string[] };
  readonly rows: readonly BenchRow[];
  readonly failures: readonly { readonly suite: string; readonly error: string }[];
}

/** Run the suites, write latest.json and latest.md to `outDir`, and return the results. */
export async function runBench(options: BenchOptions, command: string): Promise<BenchResults> {
  const started = Date.now();
  const load: number[] = [loadavg()[0]!];
  const sampler = setInterval(() => load.push(loadavg()[0]!), 5000);
  sampler.unref();
  const rows: BenchRow[] = [];
  const failures: { suite: string; error: string }[] = [];
  const suites = options.only.length ? SUITES.filter((s) => options.only.includes(s.id)) : SUITES;
  for (const suite of suites) {
    const t0 = Date.now();
    options.log(`${suite.title}...`);
    try {
      rows.push(...(await suite.run({ tiny: options.tiny, runs: options.runs, log: options.log })));
    } catch (err) {
      failures.push({ suite: suite.id, error: (err as Error).stack ?? String(err) });
      options.log(`${suite.id} failed: ${(err as Error).message}`);
    }
    options.log(`${suite.id} took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  clearInterval(sampler);
  const machine = describeMachine();
  const results: BenchResults = {
    generatedAt: new Date(started).toISOString(),
    command,
    durationS: (Date.now() - started) / 1000,
    machine,
    loadAverage: {
      mean: Number((load.reduce((a, b) => a + b, 0) / load.length).toFixed(2)),
      max: Number(Math.max(...load).toFixed(2)),
    },
    options: { tiny: options.tiny, runs: options.runs, only: options.only },
    rows,
    failures,
  };
  mkdirSync(options.outDir, { recursive: true });
  writeFileSync(join(options.outDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  const table = markdownTable(rows, {
    date: results.generatedAt.slice(0, 10),
    machine,
    command,
    runs: options.runs,
    durationS: results.durationS,
    loadAverage: results.loadAverage,
  });
  const failed = failures.map((f) => `\n**${f.suite} failed**: ${f.error.split('\n')[0]}\n`).join('');
  writeFileSync(join(options.outDir, 'latest.md'), `# Pollen benchmarks\n\n${table}${failed}`);
  return results;
}
