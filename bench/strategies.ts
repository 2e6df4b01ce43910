import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TrainingSpec } from '@pollen/fl-core';
import { answerJob, runJobs } from './lib/child-jobs.ts';
import { numberFlag, stringFlags } from './lib/flags.ts';
import { runAsScript, writeResults } from './lib/script.ts';
import { type Federation, type RunResult, type RunSpec, simulate } from './strategies-sim.ts';

// pnpm bench:strategies: FedAvg, FedProx, SCAFFOLD and FedAdam on McMahan's pathological
// two-shard MNIST split (rounds to a held-out accuracy target), then a Byzantine run where a
// fifth of the clients send their delta sign-flipped and scaled by 10 (FedAvg, trimmed mean,
// Multi-Krum, against a clean FedAvg). Prints Markdown tables and writes the figures as JSON.

const USAGE = `tsx bench/strategies.ts [options]
  --clients N            simulated clients, one pathological shard each (default 100)
  --fraction Q           clients per round as a fraction (default 0.1)
  --rounds N             round cap of the strategy runs (default 300; 0 skips them)
  --target A             held-out accuracy the strategy runs race to (default 0.9)
  --byzantine-rounds N   rounds of each Byzantine run (default 100; 0 skips them)
  --byzantine-split S    shards (the pathological split) or iid (default iid)
  --byzantine-sampling S stratified (every cohort holds 20% attackers) or random (default stratified)
  --epochs E --batch B --lr L   local training (default 5, 10, 0.1)
  --hidden H             hidden units of the MLP (default 128)
  --mu M                 FedProx's mu (default 0.01)
  --adam-lr L            FedAdam's server learning rate (default 0.01)
  --scaffold-lr L        SCAFFOLD's global step size eta_g (default 1)
  --seed S               partition, initial weights and cohorts (default 1)
  --jobs J               runs in parallel processes (default 2)
  --only a,b             run only these labels
  --out FILE             JSON results (default bench/results/strategies.json)`;

export interface BenchOptions {
  /** The strategy race's federation (always the pathological split). */
  readonly federation: Federation;
  /** The Byzantine runs' federation: the same but for the split. */
  readonly byzantineFederation: Federation;
  readonly byzantineSampling: 'stratified' | 'random';
  readonly rounds: number;
  readonly target: number;
  readonly byzantineRounds: number;
  readonly mu: number;
  readonly adamLr: number;
  readonly scaffoldLr: number;
  readonly jobs: number;
  readonly only: readonly string[] | null;
  readonly out: string;
}

/** Read the command line; throws with the usage on a bad flag. */
export function parseOptions(argv: readonly string[]): BenchOptions {
  const flags = [
    'clients',
    'fraction',
    'rounds',
    'target',
    'byzantine-rounds',
    'byzantine-split',
    'byzantine-sampling',
    'epochs',
    'batch',
    'lr',
    'hidden',
    'mu',
    'adam-lr',
    'scaffold-lr',
    'seed',
    'jobs',
    'only',
    'out',
  ] as const;
  const values = stringFlags(argv, flags, USAGE);
  const training: TrainingSpec = {
    epochs: numberFlag(values, 'epochs', 5),
    batchSize: numberFlag(values, 'batch', 10),
    learningRate: numberFlag(values, 'lr', 0.1),
    optimizer: 'sgd',
  };
  const federation: Federation = {
    clients: numberFlag(values, 'clients', 100),
    partition: 'shards',
    fraction: numberFlag(values, 'fraction', 0.1),
    hidden: [numberFlag(values, 'hidden', 128)],
    training,
    seed: numberFlag(values, 'seed', 1),
  };
  const split = values['byzantine-split'] ?? 'iid';
  if (split !== 'shards' && split !== 'iid') {
    throw new Error(`--byzantine-split expected shards or iid, got ${split}`);
  }
  const sampling = values['byzantine-sampling'] ?? 'stratified';
  if (sampling !== 'stratified' && sampling !== 'random') {
    throw new Error(`--byzantine-sampling expected stratified or random, got ${sampling}`);
  }
  return {
    federation,
    byzantineFederation: { ...federation, partition: split },
    byzantineSampling: sampling,
    rounds: numberFlag(values, 'rounds', 300),
    target: numberFlag(values, 'target', 0.9),
    byzantineRounds: numberFlag(values, 'byzantine-rounds', 100),
    mu: numberFlag(values, 'mu', 0.01),
    adamLr: numberFlag(values, 'adam-lr', 0.01),
    scaffoldLr: numberFlag(values, 'scaffold-lr', 1),
    jobs: Math.max(1, numberFlag(values, 'jobs', 2)),
    only: values.only ? values.only.split(',') : null,
    out: resolve(values.out ?? fileURLToPath(new URL('./results/strategies.json', import.meta.url))),
  };
}

/** The runs of one benchmark: the strategy race, then the Byzantine comparison. */
export function plan(options: BenchOptions): { race: RunSpec[]; byzantine: RunSpec[] } {
  const { rounds: maxRounds, target } = options;
  const race: RunSpec[] =
    maxRounds > 0
      ? [
          { label: 'FedAvg', strategy: {}, maxRounds, target },
          { label: 'FedProx', strategy: { mu: options.mu }, maxRounds, target },
          {
            label: 'SCAFFOLD',
            strategy: { scaffold: true, serverLr: options.scaffoldLr },
            maxRounds,
            target,
          },
          { label: 'FedAdam', strategy: { name: 'fedadam', serverLr: options.adamLr }, maxRounds, target },
        ]
      : [];
  const perRound = Math.max(1, Math.round(options.federation.clients * options.federation.fraction));
  // Tolerate up to 30% of a cohort: a fifth of the population is Byzantine, and random cohorts
  // may draw more than their share. Krum needs n > 2f + 2.
  const f = Math.max(0, Math.min(Math.floor(0.3 * perRound), Math.floor((perRound - 3) / 2)));
  const byzantineRounds = options.byzantineRounds;
  const attacked = {
    byzantine: 0.2,
    attackScale: 10,
    sampling: options.byzantineSampling,
    maxRounds: byzantineRounds,
  };
  const byzantine: RunSpec[] =
    byzantineRounds > 0
      ? [
          { label: 'clean FedAvg', strategy: {}, maxRounds: byzantineRounds },
          { label: 'FedAvg + 20% Byzantine', strategy: {}, ...attacked },
          {
            label: 'trimmed mean + 20% Byzantine',
            strategy: { robust: { kind: 'trimmed-mean', beta: 0.3 } },
            ...attacked,
          },
          {
            label: 'multi-Krum + 20% Byzantine',
            strategy: { robust: { kind: 'multi-krum', f } },
            ...attacked,
          },
        ]
      : [];
  const keep = (r: RunSpec): boolean => !options.only || options.only.includes(r.label);
  return { race: race.filter(keep), byzantine: byzantine.filter(keep) };
}

interface Job {
  readonly federation: Federation;
  readonly spec: RunSpec;
}

/** Run jobs across `jobs` child processes (each runs one at a time); results in job order. */
function runAll(options: BenchOptions, jobs: readonly Job[]): Promise<RunResult[]> {
  return runJobs({
    script: fileURLToPath(import.meta.url),
    jobs,
    parallel: options.jobs,
    run: runJob,
    label: ({ spec }) => `run "${spec.label}"`,
  });
}

function runJob({ federation, spec }: Job): Promise<RunResult> {
  return simulate(federation, spec, report);
}

function report(label: string, round: number, accuracy: number): void {
  if (round % 10 === 0) process.stderr.write(`  ${label}: round ${round}, accuracy ${accuracy.toFixed(4)}\n`);
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** The Markdown tables for bench/README.md. */
export function tables(options: BenchOptions, race: RunResult[], byzantine: RunResult[]): string {
  const lines: string[] = [];
  if (race.length > 0) {
    const fedavg = race.find((r) => r.label === 'FedAvg')?.roundsToTarget ?? null;
    lines.push(
      `| strategy | rounds to ${pct(options.target)} | vs FedAvg | best accuracy | wall time |`,
      '| --- | --- | --- | --- | --- |',
    );
    for (const r of race) {
      const reached = r.roundsToTarget === null ? `not within ${options.rounds}` : String(r.roundsToTarget);
      const ratio =
        fedavg !== null && r.roundsToTarget !== null ? `${(r.roundsToTarget / fedavg).toFixed(2)}x` : '-';
      lines.push(`| ${r.label} | ${reached} | ${ratio} | ${pct(r.best)} | ${r.seconds.toFixed(0)} s |`);
    }
  }
  if (byzantine.length > 0) {
    if (lines.length > 0) lines.push('');
    const clean = byzantine.find((r) => r.label === 'clean FedAvg')?.final ?? null;
    lines.push(
      `| ${options.byzantineFederation.partition} split, ${options.byzantineSampling} cohorts, ${options.byzantineRounds} rounds | accuracy (mean of last 5 rounds) | vs clean | best |`,
      '| --- | --- | --- | --- |',
    );
    for (const r of byzantine) {
      const gap = clean === null ? '-' : `${((r.final - clean) * 100).toFixed(1)} points`;
      lines.push(`| ${r.label} | ${pct(r.final)} | ${gap} | ${pct(r.best)} |`);
    }
  }
  return lines.join('\n');
}

/** Run the benchmark end to end; returns the tables. */
export async function main(argv: readonly string[]): Promise<string> {
  const options = parseOptions(argv);
  const { race, byzantine } = plan(options);
  const all = await runAll(options, [
    ...race.map((spec) => ({ federation: options.federation, spec })),
    ...byzantine.map((spec) => ({ federation: options.byzantineFederation, spec })),
  ]);
  const raceResults = all.slice(0, race.length);
  const byzantineResults = all.slice(race.length);
  const markdown = tables(options, raceResults, byzantineResults);
  writeResults(options.out, {
    command: `pnpm bench:strategies ${argv.join(' ')}`.trim(),
    date: new Date().toISOString(),
    federation: options.federation,
    byzantineFederation: options.byzantineFederation,
    byzantineSampling: options.byzantineSampling,
    target: options.target,
    race: raceResults,
    byzantine: byzantineResults,
  });
  return markdown;
}

runAsScript(import.meta.url, main, () => answerJob(runJob));
