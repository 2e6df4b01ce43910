import { join } from 'node:path';
import { initTf } from '@pollen/ml';
import * as tf from '@tensorflow/tfjs';
import {
  buildMnistModel,
  evaluateMnist,
  loadMnist,
  mlpTopology,
  msPerExampleAlone,
  tensorsOf,
} from '../lib/mnist.ts';
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
async function centralizedToTarget(
  target: number,
  maxEpochs: number,
): Promise<{ seconds: number; samples: number } | null> {
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
  let batches = 0;
  let samplesAt = 0;
  await model.fit(data.xs, data.ys, {
    epochs: maxEpochs,
    batchSize: SIM_DEFAULTS.batchSize,
    shuffle: true,
    verbose: 0,
    callbacks: {
      onBatchEnd: async () => {
        batches++;
        if (batches % CHECK_EVERY !== 0 || reachedAt !== null) return;
        trainingMs += performance.now() - segmentStart;
        const { accuracy } = await evaluateMnist(model, test);
        if (accuracy >= target) {
          reachedAt = trainingMs;
          // The last batch of an epoch may be short; the count is of full batches.
          samplesAt = batches * SIM_DEFAULTS.batchSize;
          model.stopTraining = true;
        }
        segmentStart = performance.now();
      },
    },
  });
  model.dispose();
  tf.dispose([data.xs, data.ys]);
  return reachedAt === null ? null : { seconds: reachedAt / 1000, samples: samplesAt };
}

/** What a Node simulation took to reach `target` (all null when it did not). */
interface Federated {
  /** Serial wall time: from the first round's start to the round that reached the target. */
  readonly seconds: number | null;
  readonly rounds: number | null;
  /**
   * Critical-path time: per round up to the target, the slowest reporting client's training
   * (the largest client's examples at the rate one client trains alone) plus the coordinator's
   * own time (from the round's close to the next round's start: the commit and the next
   * selection). What devices training in parallel would take, where the simulation's clients
   * share this process and train interleaved.
   */
  readonly criticalPathS: number | null;
  /** Examples a client trained on up to the target (its examples times the epochs, per round). */
  readonly samplesPerClient: number | null;
}

/** Time to `target` in a Node simulation, serial and on the critical path. */
async function federatedSeconds(
  partition: string,
  clients: number,
  target: number,
  seed: number,
  tiny: boolean,
  msPerExample: number,
): Promise<Federated> {
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
  const { secondsToTarget, roundToTarget } = report.summary;
  const upTo = report.rounds.findIndex((r) => r.status === 'committed' && r.version === roundToTarget);
  if (secondsToTarget === null || upTo === -1) {
    return { seconds: null, rounds: null, criticalPathS: null, samplesPerClient: null };
  }
  const rounds = report.rounds;
  const gaps = rounds.slice(1).map((next, i) => next.elapsedS - next.wallS - rounds[i]!.elapsedS);
  const typicalGap = gaps.length ? median(gaps) : 0;
  let criticalPathS = 0;
  let samplesPerClient = 0;
  for (let i = 0; i <= upTo; i++) {
    const r = rounds[i]!;
    const slowestS =
      r.largestClientExamples === null
        ? r.wallS
        : (r.largestClientExamples * options.epochs * msPerExample) / 1000;
    criticalPathS += slowestS + (gaps[i] ?? typicalGap);
    samplesPerClient += (r.examplesPerClient ?? 0) * options.epochs;
  }
  return { seconds: secondsToTarget, rounds: roundToTarget, criticalPathS, samplesPerClient };
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
    const central: { seconds: number; samples: number }[] = [];
    for (let r = 0; r < ctx.runs; r++) {
      ctx.log(`time-to-accuracy: centralized run ${r + 1}/${ctx.runs}`);
      const c = await centralizedToTarget(target, ctx.tiny ? 1 : 10);
      if (c !== null) central.push(c);
    }
    const centralS = central.length ? median(central.map((c) => c.seconds)) : null;
    const local = {
      epochs: ctx.tiny ? 1 : SIM_DEFAULTS.epochs,
      batchSize: ctx.tiny ? 32 : SIM_DEFAULTS.batchSize,
      learningRate: SIM_DEFAULTS.learningRate,
    };
    const alone: number[] = [];
    for (let r = 0; r < ctx.runs; r++) alone.push(await msPerExampleAlone(local));
    const msPerExample = median(alone);
    const centralSamples = central.length ? median(central.map((c) => c.samples)) : null;
    const rows: BenchRow[] = [];
    for (const partition of ctx.tiny ? ['iid'] : ['iid', 'dirichlet:0.5']) {
      const reached: Federated[] = [];
      for (let r = 0; r < ctx.runs; r++) {
        ctx.log(`time-to-accuracy: federated ${partition}, run ${r + 1}/${ctx.runs}`);
        const fed = await federatedSeconds(partition, clients, target, r + 1, ctx.tiny, msPerExample);
        if (fed.seconds !== null) reached.push(fed);
      }
      const of = (pick: (f: Federated) => number | null): number | null => {
        const values = reached.map(pick).filter((v): v is number => v !== null);
        return values.length ? median(values) : null;
      };
      const fedS = of((f) => f.seconds);
      const criticalS = of((f) => f.criticalPathS);
      const samples = of((f) => f.samplesPerClient);
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
          roundsToTarget: of((f) => f.rounds),
          runsReachingTarget: reached.length,
          centralRunsReachingTarget: central.length,
        },
        note:
          `local: ${SIM_DEFAULTS.epochs} epochs, batch ${SIM_DEFAULTS.batchSize}, SGD lr ${SIM_DEFAULTS.learningRate}, ` +
          'every client every round; federated time runs from the first round, setup excluded; serial: the clients share one process',
      });
      rows.push({
        suite: 'time-to-accuracy',
        name: `critical-path seconds to ${target}, ${clients} clients, ${partition} (per round: the largest client's training at the rate one client trains alone, ${sig(msPerExample)} ms an example-epoch, + the coordinator's commit and next selection)`,
        value: criticalS === null ? null : sig(criticalS),
        unit: 's',
        baseline: {
          name: 'centralized model.fit on the whole training split',
          value: centralS === null ? null : sig(centralS),
          unit: 's',
        },
        ratio: criticalS !== null && centralS !== null ? sig(criticalS / centralS) : null,
        ratioMeaning: 'x the centralized time',
        runs: ctx.runs,
        extra: {
          samplesPerClientToTarget: samples === null ? null : Math.round(samples),
          centralSamplesToTarget: centralSamples,
          samplesRatio: samples !== null && centralSamples ? sig(samples / centralSamples) : null,
        },
        note: 'samples: examples one client trained on (its examples x epochs, summed over rounds) against the examples centralized training saw',
      });
    }
    return rows;
  },
};
