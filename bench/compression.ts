import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type CompressionFederation,
  type CompressionResult,
  type CompressionSetting,
  settingSpec,
  simulateCompression,
} from './compression-sim.ts';
import { answerJob, runJobs } from './lib/child-jobs.ts';
import { numberFlag } from './lib/flags.ts';
import { describeMachine } from './lib/machine.ts';
import { runAsScript, writeResults } from './lib/script.ts';

// pnpm bench:compression: one MNIST federation (same split, initial model and seed for every
// row) trained with each upload compression setting; upload bytes per round relative to
// dense float32 and held-out accuracy after a fixed number of rounds. Prints a Markdown table
// and writes every round's accuracy as JSON.

const USAGE = `tsx bench/compression.ts [options]
  --clients N      simulated clients, one IID shard each, all in every round (default 10)
  --rounds N       rounds of every row (default 40)
  --epochs E --batch B --lr L   local training (default 2, 32, 0.2)
  --hidden H       hidden units of the MLP (default 128)
  --seed S         partition, initial weights and uploads' randomness (default 1)
  --jobs J         rows in parallel processes (default 3)
  --share-rows     share rows with other invocations started with it (a lock and a result file
                   per row in the OS's temporary directory): a row one computes, the others take
  --only a,b       run only these labels
  --out FILE       JSON results (default bench/results/compression.json)`;

/** The rows: dense, per-client top-k at three densities and two widths, the shared set. */
export const SETTINGS: readonly CompressionSetting[] = [
  { label: 'dense f32', compression: { kind: 'none' } },
  ...[0.1, 0.01, 0.001].flatMap((fraction) =>
    ([8, 4] as const).map((bits) => ({
      label: `top-k ${fraction * 100}% ${bits}-bit`,
      compression: { kind: 'topk', fraction, bits },
    })),
  ),
  { label: 'shared 1% 8-bit', compression: { kind: 'shared', fraction: 0.01, bits: 8 } },
  { label: 'shared 10% 8-bit', compression: { kind: 'shared', fraction: 0.1, bits: 8 } },
];

interface Options {
  readonly share: boolean;
  readonly federation: CompressionFederation;
  readonly jobs: number;
  readonly only: readonly string[] | null;
  readonly out: string;
}

function parseOptions(argv: readonly string[]): Options {
  const flags = ['clients', 'rounds', 'epochs', 'batch', 'lr', 'hidden', 'seed', 'jobs', 'only', 'out'];
  const share = argv.includes('--share-rows');
  argv = argv.filter((a) => a !== '--share-rows');
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: Object.fromEntries(flags.map((f) => [f, { type: 'string' as const }])),
      strict: true,
    }) as { values: Record<string, string | undefined> });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${USAGE}`);
  }
  const federation: CompressionFederation = {
    clients: Math.max(1, numberFlag(values, 'clients', 10)),
    rounds: Math.max(1, numberFlag(values, 'rounds', 40)),
    hidden: [numberFlag(values, 'hidden', 128)],
    training: {
      epochs: numberFlag(values, 'epochs', 2),
      batchSize: numberFlag(values, 'batch', 32),
      learningRate: numberFlag(values, 'lr', 0.2),
      optimizer: 'sgd',
    },
    seed: numberFlag(values, 'seed', 1),
  };
  const only = values.only ? values.only.split(',') : null;
  const settings = SETTINGS.filter((s) => !only || only.includes(s.label));
  // Every row's task is checked up front, so a bad setting fails before hours of training.
  for (const s of settings) settingSpec(federation, s);
  return {
    share,
    federation,
    jobs: Math.max(1, numberFlag(values, 'jobs', 3)),
    only,
    out: resolve(values.out ?? fileURLToPath(new URL('./results/compression.json', import.meta.url))),
  };
}

interface Job {
  readonly federation: CompressionFederation;
  readonly setting: CompressionSetting;
  /** Share the row with other invocations (`--share-rows`). */
  readonly share?: boolean;
}

function progress(label: string, round: number, accuracy: number): void {
  if (round % 10 === 0) process.stderr.write(`  ${label}: round ${round}, accuracy ${accuracy.toFixed(4)}\n`);
}

/**
 * Run one row. With `--share-rows`, once for all invocations that share: a row another is
 * computing (its lock file exists) is waited for and its result taken, so invocations started
 * side by side with overlapping `--only` split the work. Shared results live in the OS's
 * temporary directory, keyed by the federation and the setting; without the flag nothing is
 * read from or written there, so no run ever reuses a figure of an earlier one.
 */
async function runRow(job: Job): Promise<CompressionResult> {
  if (!job.share) return simulateCompression(job.federation, job.setting, progress);
  const dir = join(tmpdir(), 'pollen-bench-compression');
  mkdirSync(dir, { recursive: true });
  const key = createHash('sha256')
    .update(JSON.stringify({ federation: job.federation, setting: job.setting }))
    .digest('hex')
    .slice(0, 16);
  const done = join(dir, `${key}.json`);
  const lock = join(dir, `${key}.lock`);
  let fd: number | null = null;
  try {
    fd = openSync(lock, 'wx');
  } catch {
    // Another invocation computes this row: wait for its result (or for its lock to go).
    while (existsSync(lock) && !existsSync(done)) await new Promise((r) => setTimeout(r, 2000));
    if (existsSync(done)) return JSON.parse(readFileSync(done, 'utf8')) as CompressionResult;
    return runRow(job);
  }
  try {
    const result = await simulateCompression(job.federation, job.setting, progress);
    writeFileSync(`${done}.tmp`, JSON.stringify(result));
    renameSync(`${done}.tmp`, done);
    process.stderr.write(
      `  ${job.setting.label}: done, ${Math.round(result.uploadBytes)} bytes per upload, accuracy ${result.accuracy.at(-1)}\n`,
    );
    return result;
  } finally {
    closeSync(fd);
    rmSync(lock, { force: true });
  }
}

function runAll(options: Options, jobs: readonly Job[]): Promise<CompressionResult[]> {
  return runJobs({
    script: fileURLToPath(import.meta.url),
    jobs,
    parallel: options.jobs,
    run: runRow,
    label: (job) => `row "${job.setting.label}"`,
  });
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** The table of bench/README.md: bytes and ratio against dense f32, accuracy and its difference. */
export function table(fed: CompressionFederation, results: readonly CompressionResult[]): string {
  const dense = results.find((r) => r.compression.kind === 'none' && r.compression.bits === 32);
  const lines = [
    `| setting (${fed.clients} clients, ${fed.rounds} rounds) | upload bytes per client per round | vs dense f32 | held-out accuracy after round ${fed.rounds} | vs dense | mean of last 5 rounds |`,
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    const final = r.accuracy.at(-1) ?? 0;
    const ratio = dense ? dense.uploadBytes / r.uploadBytes : null;
    const diff = dense ? 100 * (final - (dense.accuracy.at(-1) ?? 0)) : null;
    lines.push(
      `| ${r.label} | ${Math.round(r.uploadBytes).toLocaleString('en-US')} | ${ratio === null ? '-' : `${ratio.toFixed(ratio < 10 ? 2 : 0)}x fewer`} | ${pct(final)} | ${diff === null ? '-' : `${diff >= 0 ? '+' : ''}${diff.toFixed(2)} points`} | ${pct(mean(r.accuracy.slice(-5)))} |`,
    );
  }
  return lines.join('\n');
}

export async function main(argv: readonly string[]): Promise<string> {
  const options = parseOptions(argv);
  const settings = SETTINGS.filter((s) => !options.only || options.only.includes(s.label));
  const started = Date.now();
  const results = await runAll(
    options,
    settings.map((setting) => ({ federation: options.federation, setting, share: options.share })),
  );
  const markdown = table(options.federation, results);
  writeResults(options.out, {
    command: `pnpm bench:compression ${argv.join(' ')}`.trim(),
    measuredAt: new Date(started).toISOString(),
    wallSeconds: Math.round((Date.now() - started) / 1000),
    machine: describeMachine(),
    federation: options.federation,
    results,
    table: markdown,
  });
  return markdown;
}

runAsScript(import.meta.url, main, () => answerJob(runRow));
