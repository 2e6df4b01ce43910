import { loadMnist, pick } from '@pollen/coordinator';
import {
  createServerStrategy,
  fedNovaAggregate,
  hashSeed,
  partitionDirichlet,
  seededRng,
  shuffle,
  type TrainingSpec,
  validateStrategyConfig,
  weightedAverage,
} from '@pollen/fl-core';
import { type BatchSource, initTf, setFlatWeights, type TrainClock, trainLocal } from '@pollen/ml';
import { buildMnistModel, evaluateMnist, mlpTopology, mnistTask, sourceOf } from './lib/mnist.ts';
import { initialWeights } from './strategies-sim.ts';

// Heterogeneous devices in one Node process: a population where some devices are `slowdown`
// times slower, simulated by the time each local step takes on the device's own clock (the
// clock @pollen/ml's trainLocal reads for its time budget, advanced as each step ends). The
// models are trained for real (tfjs WASM, the browser's training module); only the devices'
// speed and the round's wall time are simulated. Three ways of giving devices work:
//   fixed:      every device trains `epochs` epochs; the round closes at `deadlineMs`, and a
//               device not done by then is dropped (its work is lost), as a synchronous round
//               with a deadline does;
//   budget:     every device trains for `timeBudgetMs` (up to `epochs` epochs) and reports its
//               steps; the round waits for all (FedAvg's example-weighted mean);
//   fednova:    the same time budgets, aggregated by FedNova (Wang et al. 2020).

export type Scheme = 'fixed' | 'budget' | 'fednova';

export interface HeteroFederation {
  readonly clients: number;
  /** Clients per round. */
  readonly cohort: number;
  /** Dirichlet(alpha) over labels: the non-IID split. */
  readonly alpha: number;
  /** Fraction of the devices that are slow. */
  readonly slowFraction: number;
  /**
   * Which devices are slow: `random`, or `by-data`: those whose digits have the lowest mean
   * label (mostly 0 to 4), as when device speed goes with who holds the device.
   */
  readonly slowDevices: 'random' | 'by-data';
  /** How many times slower a slow device's step is. */
  readonly slowdown: number;
  /** Simulated milliseconds of one local step (one mini-batch) on a fast device. */
  readonly stepMs: number;
  readonly hidden: readonly number[];
  readonly training: TrainingSpec;
  /** fixed: the round's deadline (simulated ms). */
  readonly deadlineMs: number;
  /** budget, fednova: each device's time budget (simulated ms). */
  readonly timeBudgetMs: number;
  readonly seed: number;
}

export interface HeteroResult {
  readonly scheme: Scheme;
  readonly seed: number;
  readonly accuracy: number[];
  /** First round at the target, or null. */
  readonly roundsToTarget: number | null;
  /** Simulated wall time of the rounds up to the target (or all rounds), seconds. */
  readonly wallSeconds: number;
  /** Updates dropped at the deadline (fixed only). */
  readonly dropped: number;
  /** Mean local steps of a fast and of a slow device's update. */
  readonly steps: { readonly fast: number; readonly slow: number };
  /** Seconds this process spent computing the run. */
  readonly computeSeconds: number;
}

/** A device's clock: simulated time that moves only as its steps end. */
class DeviceClock implements TrainClock {
  t = 0;
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.t += ms;
  }
}

interface Population {
  readonly shards: BatchSource[];
  readonly slow: ReadonlySet<number>;
  readonly topology: Record<string, unknown>;
  readonly initial: Float32Array;
}

async function populate(fed: HeteroFederation): Promise<Population> {
  await initTf();
  const { train } = loadMnist();
  const parts = partitionDirichlet(train.labels, fed.clients, fed.alpha, seededRng(fed.seed));
  const shards = parts.map((indices) => sourceOf(pick(train, indices)));
  const everyone = Array.from({ length: fed.clients }, (_, i) => i);
  const slowCount = Math.round(fed.slowFraction * fed.clients);
  const meanLabel = (indices: readonly number[]): number =>
    indices.reduce((sum, i) => sum + train.labels[i]!, 0) / Math.max(1, indices.length);
  const order =
    fed.slowDevices === 'by-data'
      ? [...everyone].sort((a, b) => meanLabel(parts[a]!) - meanLabel(parts[b]!))
      : shuffle(everyone, seededRng(hashSeed(`slow:${fed.seed}`)));
  const slow = new Set(order.slice(0, slowCount));
  const topology = await mlpTopology(fed.hidden);
  const model = await buildMnistModel(topology);
  const initial = initialWeights(
    model.weights.map((w) => w.shape.map((d) => d ?? 1)),
    hashSeed(`init:${fed.seed}`),
  );
  model.dispose();
  return { shards, slow, topology, initial };
}

/** Train the federation with one scheme until `target` held-out accuracy or `maxRounds`. */
export async function simulateHetero(
  fed: HeteroFederation,
  scheme: Scheme,
  options: { readonly target: number; readonly maxRounds: number },
  onRound?: (round: number, accuracy: number, wallSeconds: number) => void,
): Promise<HeteroResult> {
  const started = performance.now();
  const { shards, slow, topology, initial } = await populate(fed);
  const { test } = loadMnist();
  const model = await buildMnistModel(topology);
  const task = mnistTask(fed.hidden);
  const server = createServerStrategy(
    validateStrategyConfig({ fednova: scheme === 'fednova' }),
    initial.length,
  );
  const budgeted = scheme !== 'fixed';
  const training: TrainingSpec = budgeted
    ? { ...fed.training, timeBudgetMs: fed.timeBudgetMs }
    : fed.training;
  let global: Float32Array = initial.slice();
  const accuracy: number[] = [];
  let wallMs = 0;
  let dropped = 0;
  let roundsToTarget: number | null = null;
  const steps = { fast: [] as number[], slow: [] as number[] };
  try {
    for (let round = 1; round <= options.maxRounds; round++) {
      // The same cohorts for every scheme of a seed.
      const cohort = shuffle(
        Array.from({ length: fed.clients }, (_, i) => i),
        seededRng(hashSeed(`round:${fed.seed}:${round}`)),
      ).slice(0, fed.cohort);
      const updates: { delta: Float32Array; weight: number; steps: number }[] = [];
      let roundMs = 0;
      for (const k of cohort) {
        const stepMs = slow.has(k) ? fed.stepMs * fed.slowdown : fed.stepMs;
        const shard = shards[k]!;
        if (!budgeted) {
          // A fixed amount of work: a device that cannot finish by the deadline is dropped,
          // and its training need not be computed.
          const needed = fed.training.epochs * Math.ceil(shard.count / fed.training.batchSize) * stepMs;
          if (needed > fed.deadlineMs) {
            dropped++;
            roundMs = Math.max(roundMs, fed.deadlineMs);
            continue;
          }
        }
        const clock = new DeviceClock();
        const result = await trainLocal(
          model,
          shard,
          global,
          training,
          task,
          () => {
            clock.t += stepMs;
          },
          {},
          { clock },
        );
        roundMs = Math.max(roundMs, result.trainMs);
        (slow.has(k) ? steps.slow : steps.fast).push(result.steps);
        updates.push({ delta: result.delta, weight: result.numExamples, steps: result.steps });
      }
      wallMs += roundMs;
      if (updates.length > 0) {
        const delta =
          scheme === 'fednova'
            ? fedNovaAggregate(updates)
            : weightedAverage(updates.map((u) => ({ vector: u.delta, weight: u.weight })));
        global = server.apply(global, delta);
      }
      setFlatWeights(model, global);
      const { accuracy: acc } = await evaluateMnist(model, test);
      accuracy.push(acc);
      onRound?.(round, acc, wallMs / 1000);
      if (acc >= options.target) {
        roundsToTarget = round;
        break;
      }
    }
  } finally {
    model.dispose();
  }
  const mean = (v: number[]): number => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0);
  return {
    scheme,
    seed: fed.seed,
    accuracy,
    roundsToTarget,
    wallSeconds: wallMs / 1000,
    dropped,
    steps: { fast: mean(steps.fast), slow: mean(steps.slow) },
    computeSeconds: (performance.now() - started) / 1000,
  };
}
