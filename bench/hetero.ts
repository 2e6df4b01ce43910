import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type HeteroFederation, type HeteroResult, type Scheme, simulateHetero } from './hetero-sim.ts';
import { numberFlag, stringFlags } from './lib/flags.ts';
import { runAsScript, writeResults } from './lib/script.ts';
import { median } from './lib/stats.ts';

// pnpm bench:hetero: a population where a third of the devices are 10x slower, on a non-IID
// (Dirichlet) MNIST split: rounds and simulated wall time to a held-out accuracy target for
// (a) fixed epochs with a deadline, (b) time budgets with FedAvg, (c) time budgets with FedNova.
// Every scheme runs on the same seeds, populations and cohorts; the table gives the median over
// the seeds and each median's ratio to (a)'s, all from this one run.

const USAGE = `tsx bench/hetero.ts [options]
  --clients N          simulated devices, one Dirichlet shard each (default 30)
  --cohort N           devices per round (default 10)
  --alpha A            Dirichlet concentration over labels (default 0.3)
  --slow-fraction F    share of slow devices (default 1/3)
  --slowdown X         how many times slower a slow device's step is (default 10)
  --slow-devices S     random, or by-data: the devices holding the lowest digits (default random)
  --step-ms T          simulated ms of one step on a fast device (default 20)
  --epochs E --batch B --lr L   local training (default 3, 32, 0.05)
  --hidden H           hidden units of the MLP (default 32)
  --deadline-ms D      (a)'s round deadline, simulated (default 1000)
  --budget-ms T        (b) and (c)'s time budget, simulated (default 800)
  --target A           held-out accuracy to reach (default 0.85)
  --rounds N           round cap per run (default 80)
  --repeats R          seeds per scheme; the table shows medians (default 3)
  --seed S             first seed (default 1)
  --out FILE           JSON results (default bench/results/hetero.json)`;

const SCHEMES: readonly { scheme: Scheme; label: string }[] = [
  { scheme: 'fixed', label: '(a) fixed epochs, deadline' },
  { scheme: 'budget', label: '(b) time budget, FedAvg' },
  { scheme: 'fednova', label: '(c) time budget, FedNova' },
];

export interface HeteroOptions {
  readonly federation: Omit<HeteroFederation, 'seed'>;
  readonly target: number;
  readonly rounds: number;
  readonly repeats: number;
  readonly seed: number;
  readonly out: string;
}

/** Read the command line; throws with the usage on a bad flag. */
export function parseHeteroOptions(argv: readonly string[]): HeteroOptions {
  const names = [
    'clients',
    'cohort',
    'alpha',
    'slow-fraction',
    'slowdown',
    'slow-devices',
    'step-ms',
    'epochs',
    'batch',
    'lr',
    'hidden',
    'deadline-ms',
    'budget-ms',
    'target',
    'rounds',
    'repeats',
    'seed',
    'out',
  ];
  const values = stringFlags(argv, names, USAGE);
  const int = (name: string, fallback: number, min = 1): number => {
    const v = numberFlag(values, name, fallback);
    if (!Number.isInteger(v) || v < min) throw new Error(`--${name} expected an integer >= ${min}\n${USAGE}`);
    return v;
  };
  const clients = int('clients', 30);
  const cohort = int('cohort', 10);
  if (cohort > clients) throw new Error(`--cohort (${cohort}) cannot exceed --clients (${clients})`);
  const slowFraction = numberFlag(values, 'slow-fraction', 1 / 3);
  if (slowFraction > 1) throw new Error(`--slow-fraction expected a number in [0, 1]\n${USAGE}`);
  const slowDevices = values['slow-devices'] ?? 'random';
  if (slowDevices !== 'random' && slowDevices !== 'by-data') {
    throw new Error(`--slow-devices expected random or by-data, got ${slowDevices}\n${USAGE}`);
  }
  const target = numberFlag(values, 'target', 0.85);
  if (target > 1) throw new Error(`--target expected an accuracy in [0, 1]\n${USAGE}`);
  return {
    federation: {
      clients,
      cohort,
      alpha: numberFlag(values, 'alpha', 0.3) || 0.3,
      slowFraction,
      slowDevices,
      slowdown: Math.max(1, numberFlag(values, 'slowdown', 10)),
      stepMs: numberFlag(values, 'step-ms', 20) || 20,
      hidden: [int('hidden', 32)],
      training: {
        epochs: int('epochs', 3),
        batchSize: int('batch', 32),
        learningRate: numberFlag(values, 'lr', 0.05) || 0.05,
        optimizer: 'sgd',
      },
      deadlineMs: int('deadline-ms', 1000),
      timeBudgetMs: int('budget-ms', 800),
    },
    target,
    rounds: int('rounds', 80),
    repeats: int('repeats', 3),
    seed: int('seed', 1, 0),
    // Relative to where the command was typed (pnpm runs the script in bench/).
    out: values.out
      ? resolve(process.env.INIT_CWD ?? process.cwd(), values.out)
      : fileURLToPath(new URL('./results/hetero.json', import.meta.url)),
  };
}

const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
const ratio = (v: number | null, base: number | null): string =>
  v === null || base === null || base === 0 ? 'n/a' : `${(v / base).toFixed(2)}x`;

/** The median of the runs that reached the target, or null when fewer than half did. */
function medianReached(values: readonly (number | null)[]): number | null {
  const reached = values.filter((v): v is number => v !== null);
  return reached.length * 2 > values.length ? median(reached) : null;
}

export async function main(argv: string[]): Promise<string> {
  const options = parseHeteroOptions(argv);
  const results: HeteroResult[] = [];
  for (let r = 0; r < options.repeats; r++) {
    const fed = { ...options.federation, seed: options.seed + r };
    for (const { scheme } of SCHEMES) {
      const result = await simulateHetero(fed, scheme, { target: options.target, maxRounds: options.rounds });
      results.push(result);
      process.stderr.write(
        `seed ${fed.seed} ${scheme}: ${result.roundsToTarget ?? `not in ${options.rounds}`} rounds, ${result.wallSeconds.toFixed(1)} s simulated, best ${pct(Math.max(...result.accuracy))} (${result.computeSeconds.toFixed(0)} s to compute)\n`,
      );
    }
  }
  const rows = SCHEMES.map(({ scheme, label }) => {
    const runs = results.filter((x) => x.scheme === scheme);
    const rounds = medianReached(runs.map((x) => x.roundsToTarget));
    // Wall time to the target of the runs that reached it.
    const wall = medianReached(runs.map((x) => (x.roundsToTarget === null ? null : x.wallSeconds)));
    return {
      scheme,
      label,
      reached: runs.filter((x) => x.roundsToTarget !== null).length,
      rounds,
      wall,
      best: median(runs.map((x) => Math.max(...x.accuracy))),
      stepsFast: median(runs.map((x) => x.steps.fast)),
      stepsSlow: median(runs.map((x) => x.steps.slow)),
      dropped: median(runs.map((x) => x.dropped)),
    };
  });
  const base = rows[0]!;
  const table = [
    `| scheme | rounds to ${pct(options.target)} | vs (a) | simulated wall time | vs (a) | reached | best accuracy | steps fast / slow | dropped updates |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (row) =>
        `| ${row.label} | ${row.rounds ?? 'n/a'} | ${ratio(row.rounds, base.rounds)} | ${row.wall === null ? 'n/a' : `${row.wall.toFixed(1)} s`} | ${ratio(row.wall, base.wall)} | ${row.reached} of ${options.repeats} | ${pct(row.best)} | ${row.stepsFast.toFixed(0)} / ${row.stepsSlow.toFixed(0)} | ${row.dropped} |`,
    ),
  ].join('\n');
  // The options as run, without where the file went (a path of this machine).
  const { out, ...settings } = options;
  writeResults(out, { options: settings, rows, runs: results });
  return table;
}

runAsScript(import.meta.url, main);
