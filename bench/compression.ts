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
import {
  type CompressionFederation,
  type CompressionResult,
  type CompressionSetting,
  settingSpec,
  simulateCompression,
} from './compression-sim.ts';
import { answerJob, runJobs } from './lib/child-jobs.ts';
import { numberFlag, stringFlags } from './lib/flags.ts';
import { describeMachine } from './lib/machine.ts';
import { runAsScript, writeResults } from './lib/script.ts';

// pnpm bench:compression: MNIST federations trained with each upload compression setting,
// on an IID and a Dirichlet(0.5) split, over several seeds (split, initial model and uploads'
// randomness per seed, the same for every row). The headline is the bytes one client moves
// (upload plus download) until the held-out accuracy first reaches a target set by the dense
// row of the same split and seed; next to it the accuracy after the last round. Prints Markdown
// tables and writes every round's accuracy and bytes as JSON.

const USAGE = `tsx bench/compression.ts [options]
  --clients N      simulated clients, one shard each, all in every round (default 10)
  --rounds N       rounds of every row (default 30)
  --epochs E --batch B --lr L   local training (default 1, 32, 0.2)
  --hidden H       hidden units of the MLP (default 64)
  --seeds a,b      seeds: partition, initial weights and uploads' randomness (default 1,2,3)
  --splits a,b     iid, dirichlet (default both; Dirichlet alpha --alpha, default 0.5)
  --margin P       the target is the dense row's accuracy (mean of its last 3 rounds, same
                   split and seed) minus P points (default 1)
  --jobs J         rows in parallel processes (default 2)
  --share-rows     share rows with other invocations started with it (a lock and a result file
                   per row in the OS's temporary directory): a row one computes, the others take
  --only a,b       run only these labels (default: the rows of bench/README.md's table)
  --out FILE       JSON results (default bench/results/compression.json)
The configuration of the earlier one-seed table: --rounds 40 --epochs 2 --hidden 128 --seeds 1 --splits iid`;

/** DGC at 0.1%: momentum correction with masking, local clipping, a warm-up of 4 rounds from 2%. */
const DGC = { momentumCorrection: 0.5, updateClipNorm: 2, warmupRounds: 4, warmupFraction: 0.02 };

/** Every row this script knows: dense, per-client top-k, top-k with DGC's terms, the shared set. */
export const SETTINGS: readonly CompressionSetting[] = [
  { label: 'dense f32', compression: { kind: 'none' } },
  ...[0.1, 0.01, 0.001].flatMap((fraction) =>
    ([8, 4] as const).map((bits) => ({
      label: `top-k ${fraction * 100}% ${bits}-bit`,
      compression: { kind: 'topk', fraction, bits },
    })),
  ),
  { label: 'top-k 0.1% 4-bit DGC', compression: { kind: 'topk', fraction: 0.001, bits: 4, ...DGC } },
  {
    label: 'top-k 0.1% 4-bit DGC m0.9',
    compression: { kind: 'topk', fraction: 0.001, bits: 4, ...DGC, momentumCorrection: 0.9 },
  },
  { label: 'shared 1% 8-bit', compression: { kind: 'shared', fraction: 0.01, bits: 8 } },
  { label: 'shared 10% 8-bit', compression: { kind: 'shared', fraction: 0.1, bits: 8 } },
  // The shared set's score before the optimistic rate for never-sent coordinates.
  {
    label: 'shared 1% 8-bit no optimism',
    compression: { kind: 'shared', fraction: 0.01, bits: 8, optimism: 0 },
  },
  // Compressed downloads (model deltas against the model the clients hold) with dense uploads:
  // the download goal's row, against dense f32 both ways.
  {
    label: 'dense f32 + down 10% 8-bit',
    compression: { kind: 'none' },
    download: { bits: 8 as const, fraction: 0.1 },
  },
  // Compressed downloads with DGC uploads.
  ...[0.1, 0.01].map((fraction) => ({
    label: `top-k 0.1% 4-bit DGC + down ${fraction * 100}% 8-bit`,
    compression: { kind: 'topk', fraction: 0.001, bits: 4, ...DGC },
    download: { bits: 8 as const, fraction },
  })),
];

/** The rows a plain run computes. */
export const DEFAULT_ROWS: readonly string[] = [
  'dense f32',
  'top-k 0.1% 4-bit',
  'top-k 0.1% 4-bit DGC',
  'shared 10% 8-bit',
  'shared 1% 8-bit',
  'shared 1% 8-bit no optimism',
  'dense f32 + down 10% 8-bit',
  'top-k 0.1% 4-bit DGC + down 10% 8-bit',
  'top-k 0.1% 4-bit DGC + down 1% 8-bit',
];

interface Options {
  readonly share: boolean;
  readonly federations: readonly CompressionFederation[];
  readonly settings: readonly CompressionSetting[];
  readonly margin: number;
  readonly jobs: number;
  readonly out: string;
}

function parseOptions(argv: readonly string[]): Options {
  const flags = [
    'clients',
    'rounds',
    'epochs',
    'batch',
    'lr',
    'hidden',
    'seeds',
    'splits',
    'alpha',
    'margin',
    'jobs',
    'only',
    'out',
  ];
  const share = argv.includes('--share-rows');
  argv = argv.filter((a) => a !== '--share-rows');
  const values = stringFlags(argv, flags, USAGE);
  const seeds = (values.seeds ?? '1,2,3').split(',').map(Number);
  const splits = (values.splits ?? 'iid,dirichlet').split(',');
  for (const split of splits) {
    if (split !== 'iid' && split !== 'dirichlet')
      throw new Error(`--splits: unknown split ${split}\n${USAGE}`);
  }
  if (seeds.some((x) => !Number.isInteger(x))) throw new Error(`--seeds expected integers\n${USAGE}`);
  const federations = (splits as CompressionFederation['split'][]).flatMap((split) =>
    seeds.map(
      (seed): CompressionFederation => ({
        clients: Math.max(1, numberFlag(values, 'clients', 10)),
        split,
        alpha: numberFlag(values, 'alpha', 0.5),
        rounds: Math.max(1, numberFlag(values, 'rounds', 30)),
        hidden: [numberFlag(values, 'hidden', 64)],
        training: {
          epochs: numberFlag(values, 'epochs', 1),
          batchSize: numberFlag(values, 'batch', 32),
          learningRate: numberFlag(values, 'lr', 0.2),
          optimizer: 'sgd',
        },
        seed,
      }),
    ),
  );
  const only = values.only ? values.only.split(',') : DEFAULT_ROWS;
  const settings = SETTINGS.filter((s) => only.includes(s.label));
  // Every row's task is checked up front, so a bad setting fails before hours of training.
  for (const f of federations) for (const s of settings) settingSpec(f, s);
  return {
    share,
    federations,
    settings,
    margin: numberFlag(values, 'margin', 1),
    jobs: Math.max(1, numberFlag(values, 'jobs', 2)),
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

/** A shared row's result and lock files, keyed by its federation and setting. */
function rowFiles(job: Job): { done: string; lock: string } {
  const dir = join(tmpdir(), 'pollen-bench-compression');
  mkdirSync(dir, { recursive: true });
  const key = createHash('sha256')
    .update(JSON.stringify({ federation: job.federation, setting: job.setting }))
    .digest('hex')
    .slice(0, 16);
  return { done: join(dir, `${key}.json`), lock: join(dir, `${key}.lock`) };
}

/** A shared row an earlier invocation finished, read without starting a process for it. */
function finishedRow(job: Job): CompressionResult | null {
  if (!job.share) return null;
  const { done } = rowFiles(job);
  return existsSync(done) ? (JSON.parse(readFileSync(done, 'utf8')) as CompressionResult) : null;
}

/**
 * Run one row. With `--share-rows`, once for all invocations that share: a row another is
 * computing (its lock file exists) is waited for and its result taken, so invocations started
 * side by side with overlapping `--only` split the work. Shared results live in the OS's
 * temporary directory, keyed by the federation and the setting; without the flag nothing is
 * read from or written there, so no run ever reuses a figure of an earlier one.
 */
async function runRow(job: Job): Promise<CompressionResult> {
  const name = `${job.setting.label}, ${job.federation.split}, seed ${job.federation.seed}`;
  const onRound = (_: string, round: number, accuracy: number): void => progress(name, round, accuracy);
  if (!job.share) return simulateCompression(job.federation, job.setting, onRound);
  const { done, lock } = rowFiles(job);
  // A row an earlier invocation finished (same federation and setting) is taken as it is.
  if (existsSync(done)) return JSON.parse(readFileSync(done, 'utf8')) as CompressionResult;
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
    const result = await simulateCompression(job.federation, job.setting, onRound);
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
    label: (job) => `row "${job.setting.label}" (${job.federation.split}, seed ${job.federation.seed})`,
  });
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const kb = (bytes: number): string =>
  `${(bytes / 1000).toLocaleString('en-US', { maximumFractionDigits: 1 })} kB`;
const times = (x: number): string => `${x.toFixed(x < 10 ? 2 : 0)}x`;
/** A ratio dense / row as "Nx fewer", or "Nx more" when the row moved more bytes. */
const fewer = (ratio: number): string => (ratio >= 1 ? `${times(ratio)} fewer` : `${times(1 / ratio)} more`);

/** What one row reached against its split and seed's target. */
export interface ToTarget {
  /** The first round at or above the target (1-based), null when never. */
  readonly round: number | null;
  /** Upload bytes of one client through that round. */
  readonly upload: number | null;
  /** Upload plus download bytes of one client through that round. */
  readonly total: number | null;
}

/** The target of a split and seed: the dense row's mean accuracy over its last 3 rounds minus `margin` points. */
export function targetOf(dense: CompressionResult, margin: number): number {
  return mean(dense.accuracy.slice(-3)) - margin / 100;
}

/** Bytes one client moved until `result` first reached `target`. */
export function toTarget(result: CompressionResult, target: number): ToTarget {
  let up = 0;
  let down = 0;
  for (let r = 0; r < result.accuracy.length; r++) {
    up += result.uploadBytesPerRound[r] ?? 0;
    down += result.downloadBytesPerRound[r] ?? 0;
    if (result.accuracy[r]! >= target) return { round: r + 1, upload: up, total: up + down };
  }
  return { round: null, upload: null, total: null };
}

/**
 * bench/README.md's tables, one per split: per setting the median over seeds of the bytes to
 * the target (upload plus download, and upload alone) against dense f32, of the rounds it
 * took, of the accuracy after the last round and of its difference to dense's (per seed).
 */
export function table(fed: CompressionFederation, results: readonly CompressionResult[], margin = 1): string {
  const out: string[] = [];
  for (const split of ['iid', 'dirichlet'] as const) {
    const rows = results.filter((r) => r.split === split);
    if (rows.length === 0) continue;
    const seeds = [...new Set(rows.map((r) => r.seed))];
    const labels = [...new Set(rows.map((r) => r.label))];
    const denseOf = (seed: number): CompressionResult | undefined =>
      rows.find((r) => r.seed === seed && r.compression.kind === 'none' && r.compression.bits === 32);
    const targets = seeds.map((seed) => {
      const dense = denseOf(seed);
      return dense ? targetOf(dense, margin) : null;
    });
    const name = split === 'iid' ? 'IID' : `Dirichlet(${fed.alpha})`;
    out.push(
      `${name}, ${fed.clients} clients, ${fed.rounds} rounds, ${seeds.length} seed(s) (${seeds.join(', ')}); target: dense's accuracy (mean of its last 3 rounds, same seed) minus ${margin} point(s): ${targets.map((t) => (t === null ? '-' : pct(t))).join(', ')}`,
      '',
      '| setting | upload bytes per client per round | vs dense | download bytes per client per round | bytes up + down per client to target | vs dense | upload bytes to target | vs dense | rounds to target | accuracy after the last round | vs dense |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const label of labels) {
      const perSeed = seeds.map((seed, j) => {
        const r = rows.find((x) => x.label === label && x.seed === seed);
        const dense = denseOf(seed);
        const target = targets[j] ?? null;
        if (!r) return null;
        const reached = target === null ? null : toTarget(r, target);
        const denseReached = target === null || !dense ? null : toTarget(dense, target);
        return { r, dense, reached, denseReached };
      });
      const have = perSeed.filter((x) => x !== null);
      const upload = median(have.map((x) => x.r.uploadBytes));
      const download = median(have.map((x) => mean(x.r.downloadBytesPerRound)));
      const denseUp = median(have.filter((x) => x.dense).map((x) => x.dense!.uploadBytes));
      const reachedAll = have.every((x) => x.reached?.total != null);
      const reachedCount = have.filter((x) => x.reached?.total != null).length;
      const total = reachedAll ? median(have.map((x) => x.reached!.total!)) : null;
      const up = reachedAll ? median(have.map((x) => x.reached!.upload!)) : null;
      const denseTotal = median(
        have.filter((x) => x.denseReached?.total != null).map((x) => x.denseReached!.total!),
      );
      const denseUpTo = median(
        have.filter((x) => x.denseReached?.upload != null).map((x) => x.denseReached!.upload!),
      );
      const rounds = reachedAll ? median(have.map((x) => x.reached!.round!)) : null;
      const final = median(have.map((x) => mean(x.r.accuracy.slice(-1))));
      const diff = median(
        have
          .filter((x) => x.dense)
          .map((x) => 100 * ((x.r.accuracy.at(-1) ?? 0) - (x.dense!.accuracy.at(-1) ?? 0))),
      );
      const missing = `not reached (${reachedCount} of ${have.length} seeds)`;
      out.push(
        `| ${label} | ${Math.round(upload).toLocaleString('en-US')} | ${fewer(denseUp / upload)} | ${Math.round(download).toLocaleString('en-US')} | ${total === null ? missing : kb(total)} | ${total === null ? '-' : fewer(denseTotal / total)} | ${up === null ? '-' : kb(up)} | ${up === null ? '-' : fewer(denseUpTo / up)} | ${rounds === null ? '-' : rounds} | ${pct(final)} | ${diff >= 0 ? '+' : ''}${diff.toFixed(2)} points |`,
      );
    }
    out.push('');
  }
  return out.join('\n').trimEnd();
}

export async function main(argv: readonly string[]): Promise<string> {
  const options = parseOptions(argv);
  const started = Date.now();
  // Dense rows first: every other row's headline needs its split and seed's target.
  const jobs = options.settings.flatMap((setting) =>
    options.federations.map((federation) => ({ federation, setting, share: options.share })),
  );
  const finished = jobs.map(finishedRow);
  const computed = await runAll(
    options,
    jobs.filter((_, j) => finished[j] === null),
  );
  const results = finished.map((row) => row ?? computed.shift()!);
  const markdown = table(options.federations[0]!, results, options.margin);
  writeResults(options.out, {
    command: `pnpm bench:compression ${argv.join(' ')}`.trim(),
    measuredAt: new Date(started).toISOString(),
    wallSeconds: Math.round((Date.now() - started) / 1000),
    machine: describeMachine(),
    federations: options.federations,
    margin: options.margin,
    results,
    table: markdown,
  });
  return markdown;
}

runAsScript(import.meta.url, main, () => answerJob(runRow));
