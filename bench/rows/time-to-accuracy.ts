import { join } from 'node:path';
import { initTf } from '@pollen/ml';
import * as tf from '@tensorflow/tfjs';
import { buildMnistModel, evaluateMnist, loadMnist, mlpTopology, tensorsOf } from '../lib/mnist.ts';
import { RESULTS_DIR } from '../lib/paths.ts';
import { median, sig } from '../lib/stats.ts';
import { parseSimArgs, SIM_DEFAULTS } from '../sim/options.ts';
import { runSim } from '../sim/run.ts';
import type { BenchContext, BenchRow, Suite } from './types.ts';

/** Held-out accuracy is checked every this many mini-batches of centralized training. */
const CHECK_EVERY = 25;

/**
 * Centralized training on the whole training split (the 8,000 digits the simulated clients
 * share between them), same model and local hyper-parameters as the simulation's clients:
 * seconds of training (held-out checks not counted) until the held-out accuracy reaches
 * `target`, or null if `maxEpochs` pass first.
 */
async function centralizedSeconds(target: number, maxEpochs: number): Promise<number | null> {
  await initTf();
  const { train, test } = loadMnist();
  const data = tensorsOf(train);
  const model = await buildMnistModel(await mlpTopology([128]));
  model.compile({
    optimizer: tf.train.sgd(SIM_DEFAULTS.learningRate),
    loss: 'categoricalCrossentropy',
  });
  let trainingMs = 0;
  let segmentStart = performance.now();
  let reachedAt: number | null = null;
  await model.fit(data.xs, data.ys, {
    epochs: maxEpochs,
    batchSize: SIM_DEFAULTS.batchSize,
    shuffle: true,
    verbose: 0,
    callbacks: {
      onBatchEnd: async (batch: number) => {
        if ((batch + 1) % CHECK_EVERY !== 0 || reachedAt !== null) return;
        trainingMs += performance.now() - segmentStart;
        const { accuracy } = await evaluateMnist(model, test);
        if (accuracy >= target) {
          reachedAt = trainingMs;
          model.stopTraining = true;
        }
        segmentStart = performance.now();
      },
    },
  });
  model.dispose();
  tf.dispose([data.xs, data.ys]);
  return reachedAt === null ? null : reachedAt / 1000;
}

/** Seconds from the first round's start to the round that reached `target`, in a Node simulation. */
async function federatedSeconds(
  partition: string,
  clients: number,
  target: number,
  seed: number,
  tiny: boolean,
): Promise<{ seconds: number | null; rounds: number | null }> {
  const options = parseSimArgs(
    [
      '--node',
      String(clients),
      '--rounds',
      '40',
      '--partition',
      partition,
      '--target',
      String(target),
    ].concat(
      ['--seed', String(seed), '--quiet', '--timeout', '600'],
      tiny ? ['--epochs', '1', '--batch', '32'] : [],
      ['--out', join(RESULTS_DIR, 'sim', `bench-tta-${partition.replace(':', '')}-${seed}`)],
    ),
  );
  const report = await runSim(options, { command: `bench time-to-accuracy ${partition}` });
  if (report.error) throw new Error(`the simulation failed: ${report.error}`);
  return { seconds: report.summary.secondsToTarget, rounds: report.summary.roundToTarget };
}

/**
 * Federated against centralized time to a held-out accuracy target, on the same training
 * split, model and local hyper-parameters: the Node simulation (its clients train in this
 * process, the coordinator in its own, on the same two cores) against `model.fit` on the
 * whole split in this process.
 */
export const timeToAccuracySuite: Suite = {
  id: 'time-to-accuracy',
  title: 'Federated vs centralized time to target accuracy',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const target = ctx.tiny ? 0.7 : 0.9;
    const clients = ctx.tiny ? 3 : 20;
    const central: number[] = [];
    for (let r = 0; r < ctx.runs; r++) {
      ctx.log(`time-to-accuracy: centralized run ${r + 1}/${ctx.runs}`);
      const s = await centralizedSeconds(target, ctx.tiny ? 1 : 10);
      if (s !== null) central.push(s);
    }
    const centralS = central.length ? median(central) : null;
    const rows: BenchRow[] = [];
    for (const partition of ctx.tiny ? ['iid'] : ['iid', 'dirichlet:0.5']) {
      const seconds: number[] = [];
      const rounds: number[] = [];
      for (let r = 0; r < ctx.runs; r++) {
        ctx.log(`time-to-accuracy: federated ${partition}, run ${r + 1}/${ctx.runs}`);
        const fed = await federatedSeconds(partition, clients, target, r + 1, ctx.tiny);
        if (fed.seconds !== null) seconds.push(fed.seconds);
        if (fed.rounds !== null) rounds.push(fed.rounds);
      }
      const fedS = seconds.length ? median(seconds) : null;
      rows.push({
        suite: 'time-to-accuracy',
        name: `seconds to ${target} held-out accuracy, ${clients} Node clients, ${partition}, MLP 784-128-10`,
        value: fedS === null ? null : sig(fedS),
        unit: 's',
        baseline: {
          name: 'centralized model.fit on the whole training split',
          value: centralS === null ? null : sig(centralS),
          unit: 's',
        },
        ratio: fedS !== null && centralS !== null ? sig(fedS / centralS) : null,
        ratioMeaning: 'x the centralized time',
        runs: ctx.runs,
        extra: {
          roundsToTarget: rounds.length ? median(rounds) : null,
          runsReachingTarget: seconds.length,
          centralRunsReachingTarget: central.length,
        },
        note:
          `local: ${SIM_DEFAULTS.epochs} epochs, batch ${SIM_DEFAULTS.batchSize}, SGD lr ${SIM_DEFAULTS.learningRate}, ` +
          'every client every round; federated time runs from the first round, setup excluded',
      });
    }
    return rows;
  },
};
