import { resolve } from 'node:path';
import { pick } from '@pollen/coordinator';
import {
  addGaussianNoise,
  clipToNorm,
  createServerStrategy,
  hashSeed,
  PrivacyLedger,
  type PrivacySettings,
  partitionIid,
  roundNoise,
  seededRng,
  type TrainingSpec,
  validatePrivacySettings,
} from '@pollen/fl-core';
import { type BatchSource, getFlatWeights, initTf, setFlatWeights, trainLocal } from '@pollen/ml';
import { numberFlag, stringFlags } from './lib/flags.ts';
import { buildMnistModel, evaluateMnist, loadMnist, mlpTopology, mnistTask, sourceOf } from './lib/mnist.ts';
import { RESULTS_DIR } from './lib/paths.ts';
import { runAsScript, writeResults } from './lib/script.ts';
import { checkStrategy, type Federation } from './strategies-sim.ts';

// pnpm bench:privacy: DP-FedAvg on IID MNIST for a fixed number of rounds at noise multipliers
// z = 0, 0.5 and 1, with the epsilon each reached. The rounds are the coordinator's: Poisson
// sampling at rate q, every client clips its delta to C and adds its share z*C/sqrt(m) of the
// noise (m = the quorum), a round below its quorum is abandoned and not charged, the noised sum
// over the reports is applied by FedAvg, and the ledger charges (q, z) per committed round.
// The training is the browser's (train.ts), the split and the evaluation the coordinator's,
// the noise, clipping and accounting fl-core's, as the coordinator and the SDK call them.

const USAGE = `tsx bench/privacy.ts [options]
  --clients N      simulated clients, an IID shard of the 8,000 training digits each (default 800)
  --q Q            Poisson sampling rate per round (default 0.1)
  --quorum F       a round needs F * q * N reports; each client's noise is z*C/sqrt(F*q*N) (default 0.75)
  --rounds R       rounds per run (default 100)
  --z LIST         noise multipliers, comma-separated (default 0,0.5,1)
  --clip C         clip norm (default 0.5)
  --delta D        delta of the reported epsilon (default 1e-5)
  --server-lr L    FedAvg's server learning rate (default 1)
  --epochs E --batch B --lr L   local training (default 2, 5, 0.1)
  --hidden H       hidden units of the MLP (default 64)
  --seed S         partition, cohorts and noise (default 1)
  --out FILE       JSON results (default bench/results/privacy.json)`;

export interface PrivacyBenchOptions {
  readonly federation: Federation;
  readonly quorum: number;
  readonly rounds: number;
  readonly noiseMultipliers: readonly number[];
  readonly clipNorm: number;
  readonly delta: number;
  readonly serverLr: number;
  readonly out: string;
}

export interface PrivacyRun {
  readonly noiseMultiplier: number;
  /** Std of the noise each client added per coordinate. */
  readonly noiseStd: number;
  /** Held-out accuracy after each round (index 0 = round 1; an abandoned round repeats the last). */
  readonly accuracy: number[];
  /** Mean accuracy of the last five rounds. */
  readonly final: number;
  readonly committed: number;
  readonly abandoned: number;
  /** epsilon at delta after the committed rounds (Infinity without noise), and its RDP order. */
  readonly epsilon: number;
  readonly order: number | null;
  /** Fraction of client updates that were clipped. */
  readonly clippedFraction: number;
  /** Median L2 norm of the client updates before clipping, to judge C by. */
  readonly medianNorm: number;
  readonly seconds: number;
}

/** Read the command line; throws with the usage on a bad flag. */
export function parseOptions(argv: readonly string[]): PrivacyBenchOptions {
  const flags = ['clients', 'q', 'quorum', 'rounds', 'z', 'clip', 'delta', 'server-lr'];
  const more = ['epochs', 'batch', 'lr', 'hidden', 'seed', 'out'];
  const values = stringFlags(argv, [...flags, ...more], USAGE);
  const training: TrainingSpec = {
    epochs: numberFlag(values, 'epochs', 2),
    batchSize: numberFlag(values, 'batch', 5),
    learningRate: numberFlag(values, 'lr', 0.1),
    optimizer: 'sgd',
  };
  const noiseMultipliers = (values.z ?? '0,0.5,1').split(',').map((z) => {
    const value = Number(z);
    if (!Number.isFinite(value) || value < 0)
      throw new Error(`--z expected non-negative numbers, got ${values.z}`);
    return value;
  });
  return {
    federation: {
      clients: numberFlag(values, 'clients', 800),
      partition: 'iid',
      fraction: numberFlag(values, 'q', 0.1),
      hidden: [numberFlag(values, 'hidden', 64)],
      training,
      seed: numberFlag(values, 'seed', 1),
    },
    quorum: numberFlag(values, 'quorum', 0.75),
    rounds: numberFlag(values, 'rounds', 100),
    noiseMultipliers,
    clipNorm: numberFlag(values, 'clip', 0.5),
    delta: numberFlag(values, 'delta', 1e-5),
    serverLr: numberFlag(values, 'server-lr', 1),
    out: resolve(values.out ?? resolve(RESULTS_DIR, 'privacy.json')),
  };
}

/** A task's privacy block for noise multiplier z, validated as a task's is ('off' for z = 0). */
function settingsFor(options: PrivacyBenchOptions, z: number): PrivacySettings {
  if (z === 0) return validatePrivacySettings({ mode: 'off', clipNorm: options.clipNorm });
  return validatePrivacySettings({
    mode: 'distributed',
    noiseMultiplier: z,
    clipNorm: options.clipNorm,
    delta: options.delta,
    epsilonBudget: 1e9,
  });
}

interface Prepared {
  readonly shards: BatchSource[];
  readonly initial: Float32Array;
  readonly topology: Record<string, unknown>;
}

async function prepare(fed: Federation): Promise<Prepared> {
  await initTf();
  const { train } = loadMnist();
  const parts = partitionIid(train.count, fed.clients, seededRng(fed.seed));
  const shards = parts.map((indices) => sourceOf(pick(train, indices)));
  const topology = await mlpTopology(fed.hidden);
  const model = await buildMnistModel(topology);
  // One initial model for every z, so the runs differ only by their noise.
  const initial = await getFlatWeights(model);
  model.dispose();
  return { shards, initial, topology };
}

/** Run DP-FedAvg for `options.rounds` rounds at noise multiplier z. */
export async function runPrivate(
  options: PrivacyBenchOptions,
  prepared: Prepared,
  z: number,
  onRound?: (round: number, accuracy: number) => void,
): Promise<PrivacyRun> {
  const started = performance.now();
  const { federation: fed } = options;
  const settings = settingsFor(options, z);
  const strategy = checkStrategy(fed, { serverLr: options.serverLr });
  const server = createServerStrategy(strategy, prepared.initial.length);
  const { test } = loadMnist();
  const model = await buildMnistModel(prepared.topology);
  const task = mnistTask(fed.hidden);
  const q = fed.fraction;
  const expected = q * fed.clients;
  const minReports = Math.max(1, Math.round(options.quorum * expected));
  const { noiseStd, noiseMultiplier } = roundNoise(settings, options.clipNorm, minReports, expected);
  const ledger = settings.mode === 'off' ? null : new PrivacyLedger({ delta: options.delta });
  let global: Float32Array = prepared.initial.slice();
  const accuracy: number[] = [];
  let committed = 0;
  let clipped = 0;
  let updates = 0;
  const norms: number[] = [];
  try {
    for (let round = 1; round <= options.rounds; round++) {
      // The same cohorts and noise stream for every z: the runs differ only by the noise's scale.
      const rng = seededRng(hashSeed(`privacy:${fed.seed}:${round}`));
      const cohort = Array.from({ length: fed.clients }, (_, k) => k).filter(() => rng() < q);
      if (cohort.length < minReports) {
        accuracy.push(accuracy.at(-1) ?? 0);
        continue;
      }
      const sum = new Float64Array(global.length);
      for (const k of cohort) {
        const { delta } = await trainLocal(model, prepared.shards[k]!, global, fed.training, task);
        const clip = clipToNorm(delta, options.clipNorm);
        const report = addGaussianNoise(clip.clipped, noiseStd, rng);
        for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + report[i]!;
        if (clip.wasClipped) clipped++;
        norms.push(clip.norm);
        updates++;
      }
      // The coordinator's estimator: the noised sum over the reports its cohort expects.
      const mean = Float32Array.from(sum, (v) => v / cohort.length);
      global = server.apply(global, mean);
      ledger?.record(q, noiseMultiplier);
      committed++;
      setFlatWeights(model, global);
      const { accuracy: acc } = await evaluateMnist(model, test);
      accuracy.push(acc);
      onRound?.(round, acc);
    }
  } finally {
    model.dispose();
  }
  const spent = ledger?.spent();
  const last = accuracy.slice(-5);
  return {
    noiseMultiplier: z,
    noiseStd,
    accuracy,
    final: last.reduce((a, b) => a + b, 0) / Math.max(1, last.length),
    committed,
    abandoned: options.rounds - committed,
    epsilon: spent ? spent.epsilon : Number.POSITIVE_INFINITY,
    order: spent && Number.isFinite(spent.order) ? spent.order : null,
    clippedFraction: updates === 0 ? 0 : clipped / updates,
    medianNorm: norms.sort((a, b) => a - b)[Math.floor(norms.length / 2)] ?? 0,
    seconds: (performance.now() - started) / 1000,
  };
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** The Markdown table for bench/README.md. */
export function table(options: PrivacyBenchOptions, runs: readonly PrivacyRun[]): string {
  const { federation: fed } = options;
  const lines = [
    `${fed.clients} clients (IID, ${Math.round(8000 / fed.clients)} digits each), Poisson q = ${fed.fraction}, ` +
      `${options.rounds} rounds, C = ${options.clipNorm}, quorum m = ${Math.max(1, Math.round(options.quorum * fed.fraction * fed.clients))}, ` +
      `784-${fed.hidden.join('-')}-10 MLP, local ${fed.training.epochs} epochs of batch ${fed.training.batchSize} at lr ${fed.training.learningRate}, delta = ${options.delta}`,
    '',
    `| z | noise std per client | held-out accuracy (mean of last 5 rounds) | epsilon at delta = ${options.delta} | rounds committed | updates clipped (median norm) | wall time |`,
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of runs) {
    const epsilon = Number.isFinite(r.epsilon)
      ? `${r.epsilon.toFixed(2)} (order ${r.order})`
      : 'infinite (no noise)';
    lines.push(
      `| ${r.noiseMultiplier} | ${r.noiseStd.toPrecision(3)} | ${pct(r.final)} | ${epsilon} | ${r.committed} of ${options.rounds} | ${pct(r.clippedFraction)} (${r.medianNorm.toFixed(2)}) | ${r.seconds.toFixed(0)} s |`,
    );
  }
  return lines.join('\n');
}

/** Run the benchmark end to end; returns the table. */
export async function main(argv: readonly string[]): Promise<string> {
  const options = parseOptions(argv);
  const prepared = await prepare(options.federation);
  const runs: PrivacyRun[] = [];
  for (const z of options.noiseMultipliers) {
    runs.push(
      await runPrivate(options, prepared, z, (round, acc) => {
        if (round % 10 === 0)
          process.stderr.write(`  z = ${z}: round ${round}, accuracy ${acc.toFixed(4)}\n`);
      }),
    );
  }
  const markdown = table(options, runs);
  writeResults(options.out, {
    command: `pnpm bench:privacy ${argv.join(' ')}`.trim(),
    date: new Date().toISOString(),
    options: { ...options, out: undefined },
    runs: runs.map((r) => ({ ...r, epsilon: Number.isFinite(r.epsilon) ? r.epsilon : null })),
  });
  return markdown;
}

runAsScript(import.meta.url, main);
