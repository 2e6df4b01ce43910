import { resolve } from 'node:path';
import { pick } from '@pollen/coordinator';
import {
  clipToNorm,
  createServerStrategy,
  epsilonFor,
  FtrlServer,
  gaussian,
  hashSeed,
  partitionPathological,
  type Rng,
  seededRng,
  shuffle,
  treeEpsilon,
  validateStrategyConfig,
} from '@pollen/fl-core';
import { type BatchSource, getFlatWeights, initTf, setFlatWeights, trainLocal } from '@pollen/ml';
import { numberFlag, stringFlags } from './lib/flags.ts';
import { buildMnistModel, evaluateMnist, loadMnist, mlpTopology, mnistTask, sourceOf } from './lib/mnist.ts';
import { RESULTS_DIR } from './lib/paths.ts';
import { runAsScript, writeResults } from './lib/script.ts';

// pnpm bench:privacy-ftrl: accuracy against epsilon on non-IID MNIST (McMahan's two-shard
// split) when availability is not Poisson: every client comes and goes in sessions (a
// two-state chain per round, as `pnpm sim --churn` has tabs leave and come back), the same
// availability trace for every run. At each target epsilon, each mechanism gets the noise that
// spends exactly that epsilon over the run:
// - DP-FedAvg, today's accountant: Poisson sampling at rate q among the clients online, RDP of
//   the subsampled Gaussian (Mironov et al. 2019) charged at q every round. The amplification
//   assumes each client's inclusion is an independent coin of probability at most q that the
//   adversary cannot see, whoever happens to be online.
// - DP-FedAvg charged at q = 1: the same rounds, with no amplification claimed (what the
//   accountant falls back to when a cohort is clamped).
// - DP-FedAvg with the separation rule: DP-FTRL's selection (below), each round's sum noised
//   alone, charged as ceil(R / b) Gaussian mechanisms (a client is in at most that many rounds,
//   and a round without it reveals nothing about it): no sampling assumption either.
// - DP-FTRL: up to m clients drawn among those online whose last round is at least b rounds
//   back, tree noise on the prefix sums, FTRL with the same momentum; epsilon from the tree
//   accountant, which needs no sampling assumption.
// Training is the browser's (@pollen/ml's trainLocal), the split and the evaluation the coordinator's, the
// clipping, noise, strategies and accountants fl-core's.

const USAGE = `tsx bench/privacy-ftrl.ts [options]
  --clients N      clients, two label shards of the 8,000 training digits each (default 1000)
  --cohort M       reports per round: DP-FTRL's cohort, DP-FedAvg's expected one (default 50)
  --rounds R       rounds per run (default 40)
  --separation B   DP-FTRL's minimum separation b (default 8)
  --online P       stationary fraction of clients online (default 0.5)
  --leave L        chance an online client goes offline after a round (default 0.2)
  --epsilons LIST  target epsilons, comma-separated (default 4,8)
  --clip C         clip norm (default 0.5)
  --delta D        delta (default 1e-5)
  --server-lr L --momentum B   server step of both (FedAvgM / FTRL-M; default 1, 0.5)
  --epochs E --batch S --lr L  local training (default 1, 10, 0.1)
  --hidden H       hidden units of the MLP (default 32)
  --seed S         partition, availability, cohorts and noise (default 1)
  --out FILE       JSON results (default bench/results/privacy-ftrl.json)`;

interface Options {
  readonly clients: number;
  readonly cohort: number;
  readonly rounds: number;
  readonly separation: number;
  readonly online: number;
  readonly leave: number;
  readonly epsilons: readonly number[];
  readonly clip: number;
  readonly delta: number;
  readonly serverLr: number;
  readonly momentum: number;
  readonly training: { epochs: number; batchSize: number; learningRate: number; optimizer: 'sgd' };
  readonly hidden: number;
  readonly seed: number;
  readonly out: string;
}

type Mechanism = 'none' | 'fedavg' | 'fedavg-q1' | 'fedavg-sep' | 'ftrl';

interface Run {
  readonly mechanism: Mechanism;
  readonly targetEpsilon: number | null;
  readonly noiseMultiplier: number;
  /** epsilon its accountant reports after the run (null: no noise). */
  readonly epsilon: number | null;
  readonly accuracy: { round: number; accuracy: number }[];
  /** Mean held-out accuracy of the last three checkpoints. */
  readonly final: number;
  readonly meanCohort: number;
  readonly maxParticipations: number;
  readonly seconds: number;
}

function parseOptions(argv: readonly string[]): Options {
  const names = ['clients', 'cohort', 'rounds', 'separation', 'online', 'leave', 'epsilons', 'clip', 'delta'];
  const more = ['server-lr', 'momentum', 'epochs', 'batch', 'lr', 'hidden', 'seed', 'out'];
  const values = stringFlags(argv, [...names, ...more], USAGE);
  const epsilons = (values.epsilons ?? '4,8').split(',').map(Number);
  if (epsilons.some((e) => !(e > 0))) throw new Error(`--epsilons expected positive numbers\n${USAGE}`);
  return {
    clients: numberFlag(values, 'clients', 1000),
    cohort: numberFlag(values, 'cohort', 50),
    rounds: numberFlag(values, 'rounds', 40),
    separation: numberFlag(values, 'separation', 8),
    online: numberFlag(values, 'online', 0.5),
    leave: numberFlag(values, 'leave', 0.2),
    epsilons,
    clip: numberFlag(values, 'clip', 0.5),
    delta: numberFlag(values, 'delta', 1e-5),
    serverLr: numberFlag(values, 'server-lr', 1),
    momentum: numberFlag(values, 'momentum', 0.5),
    training: {
      epochs: numberFlag(values, 'epochs', 1),
      batchSize: numberFlag(values, 'batch', 10),
      learningRate: numberFlag(values, 'lr', 0.1),
      optimizer: 'sgd',
    },
    hidden: numberFlag(values, 'hidden', 32),
    seed: numberFlag(values, 'seed', 1),
    // Relative to where pnpm was run (INIT_CWD), not the bench package it runs in.
    out: resolve(process.env.INIT_CWD ?? '.', values.out ?? resolve(RESULTS_DIR, 'privacy-ftrl.json')),
  };
}

/**
 * Who is online in each round: each client starts online with probability p and after every
 * round an online one leaves with probability `leave`, an offline one comes back with
 * probability leave * p / (1 - p), so p of them are online on average, in sessions.
 */
function availability(o: Options): boolean[][] {
  const rng = seededRng(hashSeed(`sessions:${o.seed}`));
  const back = (o.leave * o.online) / (1 - o.online);
  let now = Array.from({ length: o.clients }, () => rng() < o.online);
  const trace: boolean[][] = [];
  for (let r = 0; r < o.rounds; r++) {
    trace.push(now);
    now = now.map((on) => (on ? rng() >= o.leave : rng() < back));
  }
  return trace;
}

/** The smallest z (to 0.1%) whose epsilon after the run is at most `target`. */
function calibrate(epsilonOf: (z: number) => number, target: number): number {
  let lo = 0.01;
  let hi = 1;
  while (epsilonOf(hi) > target) hi *= 2;
  while (hi - lo > hi * 1e-3) {
    const mid = (lo + hi) / 2;
    if (epsilonOf(mid) > target) lo = mid;
    else hi = mid;
  }
  return hi;
}

function addNoise(sum: Float32Array, std: number, rng: Rng): void {
  for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + std * gaussian(rng);
}

interface Prepared {
  readonly shards: BatchSource[];
  readonly initial: Float32Array;
  readonly topology: Record<string, unknown>;
  readonly online: boolean[][];
}

async function run(
  o: Options,
  p: Prepared,
  mechanism: Mechanism,
  z: number,
  target: number | null,
): Promise<Run> {
  const started = performance.now();
  const { test } = loadMnist();
  const model = await buildMnistModel(p.topology);
  const task = mnistTask([o.hidden]);
  const d = p.initial.length;
  const expectedOnline = o.clients * o.online;
  const q = Math.min(1, o.cohort / expectedOnline);
  const fedavgm = createServerStrategy(
    validateStrategyConfig({ name: 'fedavgm', serverLr: o.serverLr, momentum: o.momentum }),
    d,
  );
  const ftrl = new FtrlServer({
    dimension: d,
    learningRate: o.serverLr,
    momentum: o.momentum,
    noiseStd: z * o.clip,
    denominator: o.cohort,
    restartEvery: 0,
  });
  const last = new Map<number, number>();
  const count = new Map<number, number>();
  let global: Float32Array = p.initial.slice();
  const accuracy: { round: number; accuracy: number }[] = [];
  let selected = 0;
  try {
    for (let r = 0; r < o.rounds; r++) {
      // The same availability for every run; the same cohorts for the FedAvg variants.
      const separated = mechanism === 'ftrl' || mechanism === 'fedavg-sep';
      const rng = seededRng(hashSeed(`${separated ? 'separated' : 'poisson'}:${o.seed}:${r}`));
      const online = p.online[r]!.flatMap((on, k) => (on ? [k] : []));
      const cohort = separated
        ? shuffle(
            online.filter((k) => last.get(k) === undefined || r - last.get(k)! >= o.separation),
            rng,
          ).slice(0, o.cohort)
        : online.filter(() => rng() < q);
      selected += cohort.length;
      const sum = new Float32Array(d);
      for (const k of cohort) {
        const { delta } = await trainLocal(model, p.shards[k]!, global, o.training, task);
        const { clipped } = clipToNorm(delta, o.clip);
        for (let i = 0; i < d; i++) sum[i] = sum[i]! + clipped[i]!;
        last.set(k, r);
        count.set(k, (count.get(k) ?? 0) + 1);
      }
      const noise = seededRng(hashSeed(`noise:${o.seed}:${r}`));
      if (mechanism === 'ftrl') {
        global = ftrl.apply(global, sum, noise);
      } else {
        if (mechanism !== 'none') addNoise(sum, z * o.clip, noise);
        // The coordinator's fixed-denominator mean: the sum over the cohort it expects.
        global = fedavgm.apply(
          global,
          sum.map((v) => v / o.cohort),
        );
      }
      if ((r + 1) % 5 === 0 || r + 1 === o.rounds) {
        setFlatWeights(model, global);
        accuracy.push({ round: r + 1, accuracy: (await evaluateMnist(model, test)).accuracy });
      }
    }
  } finally {
    model.dispose();
  }
  const epsilon =
    mechanism === 'none'
      ? null
      : mechanism === 'ftrl'
        ? treeEpsilon({
            noiseMultiplier: z,
            segments: [o.rounds],
            minSeparation: o.separation,
            delta: o.delta,
          }).epsilon
        : epsilonFor({
            samplingRate: mechanism === 'fedavg' ? q : 1,
            noiseMultiplier: z,
            steps: mechanism === 'fedavg-sep' ? Math.ceil(o.rounds / o.separation) : o.rounds,
            delta: o.delta,
          }).epsilon;
  const tail = accuracy.slice(-3);
  return {
    mechanism,
    targetEpsilon: target,
    noiseMultiplier: z,
    epsilon,
    accuracy,
    final: tail.reduce((a, b) => a + b.accuracy, 0) / tail.length,
    meanCohort: selected / o.rounds,
    maxParticipations: Math.max(0, ...count.values()),
    seconds: (performance.now() - started) / 1000,
  };
}

const LABEL: Record<Mechanism, string> = {
  none: 'no noise (clipping only)',
  fedavg: 'DP-FedAvg, Poisson q charged (amplification assumed)',
  'fedavg-q1': 'DP-FedAvg, q = 1 charged (no amplification)',
  'fedavg-sep': 'DP-FedAvg with the separation rule, ceil(R / b) rounds charged',
  ftrl: 'DP-FTRL (tree, minimum separation)',
};

function table(o: Options, runs: readonly Run[]): string {
  const q = Math.min(1, o.cohort / (o.clients * o.online));
  const lines = [
    `${o.clients} clients (two-shard non-IID MNIST), ${Math.round(100 * o.online)}% online on average in sessions ` +
      `(an online client leaves after a round with probability ${o.leave}), ${o.rounds} rounds, cohort m = ${o.cohort} ` +
      `(DP-FedAvg: Poisson q = ${q.toPrecision(3)} among those online), DP-FTRL b = ${o.separation}, C = ${o.clip}, ` +
      `server lr ${o.serverLr} momentum ${o.momentum}, 784-${o.hidden}-10 MLP, local ${o.training.epochs} epoch of batch ` +
      `${o.training.batchSize} at lr ${o.training.learningRate}, delta = ${o.delta}`,
    '',
    '| mechanism | target epsilon | z | epsilon reported | held-out accuracy (last 3 checkpoints) | mean cohort | most rounds by one client | wall time |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of runs) {
    lines.push(
      `| ${LABEL[r.mechanism]} | ${r.targetEpsilon ?? '-'} | ${r.noiseMultiplier === 0 ? 0 : r.noiseMultiplier.toFixed(3)} | ` +
        `${r.epsilon === null ? 'infinite' : r.epsilon.toFixed(2)} | ${(100 * r.final).toFixed(1)}% | ${r.meanCohort.toFixed(1)} | ` +
        `${r.maxParticipations} | ${r.seconds.toFixed(0)} s |`,
    );
  }
  return lines.join('\n');
}

async function main(argv: readonly string[]): Promise<string> {
  const o = parseOptions(argv);
  await initTf();
  const { train } = loadMnist();
  const parts = partitionPathological(train.labels, o.clients, 2, seededRng(o.seed));
  const topology = await mlpTopology([o.hidden]);
  const model = await buildMnistModel(topology);
  const initial = await getFlatWeights(model);
  model.dispose();
  const prepared: Prepared = {
    shards: parts.map((indices) => sourceOf(pick(train, indices))),
    initial,
    topology,
    online: availability(o),
  };
  const q = Math.min(1, o.cohort / (o.clients * o.online));
  const runs: Run[] = [];
  const log = (r: Run): void => {
    runs.push(r);
    process.stderr.write(
      `  ${LABEL[r.mechanism]} at ${r.targetEpsilon ?? '-'}: ${(100 * r.final).toFixed(1)}%\n`,
    );
  };
  log(await run(o, prepared, 'none', 0, null));
  for (const target of o.epsilons) {
    const zPoisson = calibrate(
      (z) => epsilonFor({ samplingRate: q, noiseMultiplier: z, steps: o.rounds, delta: o.delta }).epsilon,
      target,
    );
    const zFull = calibrate(
      (z) => epsilonFor({ samplingRate: 1, noiseMultiplier: z, steps: o.rounds, delta: o.delta }).epsilon,
      target,
    );
    const zSeparated = calibrate(
      (z) =>
        epsilonFor({
          samplingRate: 1,
          noiseMultiplier: z,
          steps: Math.ceil(o.rounds / o.separation),
          delta: o.delta,
        }).epsilon,
      target,
    );
    const zTree = calibrate(
      (z) =>
        treeEpsilon({
          noiseMultiplier: z,
          segments: [o.rounds],
          minSeparation: o.separation,
          delta: o.delta,
        }).epsilon,
      target,
    );
    log(await run(o, prepared, 'fedavg', zPoisson, target));
    log(await run(o, prepared, 'fedavg-q1', zFull, target));
    log(await run(o, prepared, 'fedavg-sep', zSeparated, target));
    log(await run(o, prepared, 'ftrl', zTree, target));
  }
  const markdown = table(o, runs);
  writeResults(o.out, {
    command: `pnpm bench:privacy-ftrl ${argv.join(' ')}`.trim(),
    date: new Date().toISOString(),
    options: { ...o, out: undefined },
    runs,
  });
  return markdown;
}

runAsScript(import.meta.url, main);
