import { loadMnist, pick } from '@pollen/coordinator';
import {
  createServerStrategy,
  hashSeed,
  partitionIid,
  partitionPathological,
  robustAggregate,
  type StrategyConfig,
  seededRng,
  shuffle,
  type TrainingSpec,
  validateTaskSpec,
  type WeightedVector,
} from '@pollen/fl-core';
import { type BatchSource, initTf, type LocalStrategyInput, setFlatWeights, trainLocal } from '@pollen/ml';
import { buildMnistModel, evaluateMnist, mlpTopology, mnistTask, sourceOf } from './lib/mnist.ts';

// A federated simulation in one Node process, with the browser's own training module
// (@pollen/ml's trainLocal: one loop for FedAvg, FedProx and SCAFFOLD), the coordinator's MNIST split and held-out evaluation, and fl-core's server
// side (robustAggregate, then createServerStrategy), as the coordinator runs them at commit.

/** The federation every run of one benchmark shares. */
export interface Federation {
  /** Simulated clients, one shard of the 8,000 training digits each. */
  readonly clients: number;
  /**
   * How the digits are shared out: `shards` is McMahan et al.'s pathological split (two label
   * pieces per client, most clients see two digits), `iid` a uniform one.
   */
  readonly partition: 'shards' | 'iid';
  /** Clients sampled per round, as a fraction of `clients`. */
  readonly fraction: number;
  /** Hidden layer sizes of the MLP (the default task's is [128]). */
  readonly hidden: readonly number[];
  readonly training: TrainingSpec;
  /** Seeds the partition, the initial weights and every round's cohort. */
  readonly seed: number;
}

/** One run: a strategy block as a task would carry it, and who attacks. */
export interface RunSpec {
  readonly label: string;
  /** A task's `strategy` block, validated like one. */
  readonly strategy: Record<string, unknown>;
  /** Fraction of the clients that are Byzantine (default 0). */
  readonly byzantine?: number;
  /** What a Byzantine client sends instead of its delta: -scale * delta (default 10). */
  readonly attackScale?: number;
  /**
   * How cohorts meet the attackers: `random` samples the whole population, so a round may
   * draw more Byzantine clients than their share; `stratified` samples honest and Byzantine
   * clients apart, so every cohort holds exactly their share (default `random`).
   */
  readonly sampling?: 'random' | 'stratified';
  readonly maxRounds: number;
  /** Stop once held-out accuracy reaches this (default: never; run all rounds). */
  readonly target?: number;
}

export interface RunResult {
  readonly label: string;
  readonly strategy: StrategyConfig;
  /** Held-out accuracy after each round (index 0 = round 1). */
  readonly accuracy: number[];
  /** First round whose model reached `target`, or null. */
  readonly roundsToTarget: number | null;
  readonly best: number;
  /** Mean accuracy of the last five rounds: what an attack leaves once it had time to act. */
  readonly final: number;
  readonly seconds: number;
}

export type Progress = (label: string, round: number, accuracy: number) => void;

interface Prepared {
  readonly topology: Record<string, unknown>;
  readonly shards: BatchSource[];
  readonly initial: Float32Array;
  readonly perRound: number;
}

const prepared = new Map<string, Prepared>();

/** Glorot-uniform kernels and zero biases from our own RNG, so every run starts from one model. */
export function initialWeights(shapes: readonly number[][], seed: number): Float32Array {
  const rng = seededRng(seed);
  const total = shapes.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
  const out = new Float32Array(total);
  let offset = 0;
  for (const shape of shapes) {
    const size = shape.reduce((a, b) => a * b, 1);
    if (shape.length === 2) {
      const limit = Math.sqrt(6 / (shape[0]! + shape[1]!));
      for (let i = 0; i < size; i++) out[offset + i] = (rng() * 2 - 1) * limit;
    }
    offset += size;
  }
  return out;
}

async function prepare(fed: Federation): Promise<Prepared> {
  const key = JSON.stringify(fed);
  const cached = prepared.get(key);
  if (cached) return cached;
  await initTf();
  const { train } = loadMnist();
  const rng = seededRng(fed.seed);
  const parts =
    fed.partition === 'iid'
      ? partitionIid(train.count, fed.clients, rng)
      : partitionPathological(train.labels, fed.clients, 2, rng);
  const shards = parts.map((indices) => sourceOf(pick(train, indices)));
  const topology = await mlpTopology(fed.hidden);
  const model = await buildMnistModel(topology);
  const initial = initialWeights(
    model.weights.map((w) => w.shape.map((d) => d ?? 1)),
    hashSeed(`init:${fed.seed}`),
  );
  model.dispose();
  const perRound = Math.max(1, Math.round(fed.clients * fed.fraction));
  const out = { topology, shards, initial, perRound };
  prepared.set(key, out);
  return out;
}

/** The strategy block checked as a task would check it (same quorum as the simulated rounds). */
export function checkStrategy(fed: Federation, strategy: Record<string, unknown>): StrategyConfig {
  const perRound = Math.max(1, Math.round(fed.clients * fed.fraction));
  return validateTaskSpec({
    id: 'bench',
    name: 'bench',
    modelTopology: {},
    inputShape: [784],
    numClasses: 10,
    dataset: {
      name: 'mnist',
      partition: fed.partition === 'iid' ? { kind: 'iid' } : { kind: 'shards', shardsPerClient: 2 },
      numShards: fed.clients,
    },
    training: fed.training,
    rounds: { cohortSize: perRound, minReports: perRound, deadlineMs: 60_000 },
    strategy,
  }).strategy;
}

/** Run one federated training and report its held-out accuracy round by round. */
export async function simulate(fed: Federation, run: RunSpec, onRound?: Progress): Promise<RunResult> {
  const started = performance.now();
  const config = checkStrategy(fed, run.strategy);
  const { topology, shards, initial, perRound } = await prepare(fed);
  const { test } = loadMnist();
  const model = await buildMnistModel(topology);
  const task = mnistTask(fed.hidden);
  const d = initial.length;
  const server = createServerStrategy(config, d);
  // SCAFFOLD's c_i of every client, kept across its rounds as IndexedDB keeps it in a browser.
  const controls = new Map<number, Float32Array>();
  const everyone = Array.from({ length: fed.clients }, (_, i) => i);
  const attackers = new Set(
    shuffle([...everyone], seededRng(hashSeed(`byzantine:${fed.seed}`))).slice(
      0,
      Math.round((run.byzantine ?? 0) * fed.clients),
    ),
  );
  const honest = everyone.filter((k) => !attackers.has(k));
  const byzantinePerRound = Math.round((run.byzantine ?? 0) * perRound);
  const scale = run.attackScale ?? 10;
  let global: Float32Array = initial.slice();
  const accuracy: number[] = [];
  let roundsToTarget: number | null = null;
  try {
    for (let round = 1; round <= run.maxRounds; round++) {
      // The same cohorts for every strategy of a benchmark: the rounds differ only by the rule.
      const rng = seededRng(hashSeed(`round:${fed.seed}:${round}`));
      const cohort =
        run.sampling === 'stratified'
          ? [
              ...shuffle([...honest], rng).slice(0, perRound - byzantinePerRound),
              ...shuffle([...attackers], rng).slice(0, byzantinePerRound),
            ]
          : shuffle([...everyone], rng).slice(0, perRound);
      const updates: WeightedVector[] = [];
      const controlSum = config.scaffold ? new Float64Array(d) : null;
      for (const k of cohort) {
        const strategy: LocalStrategyInput = {
          proximalMu: config.mu,
          ...(config.scaffold
            ? { scaffold: { c: server.control()!, ci: controls.get(k) ?? new Float32Array(d) } }
            : {}),
        };
        const result = await trainLocal(model, shards[k]!, global, fed.training, task, undefined, strategy);
        let delta = result.delta;
        if (attackers.has(k)) delta = delta.map((v) => -scale * v);
        updates.push({ vector: delta, weight: result.numExamples });
        if (controlSum && result.scaffold) {
          controls.set(k, result.scaffold.ci);
          for (let i = 0; i < d; i++) controlSum[i] = controlSum[i]! + result.scaffold.deltaC[i]!;
        }
      }
      const { delta } = robustAggregate(config.robust, updates);
      const control = controlSum
        ? {
            meanDelta: Float32Array.from(controlSum, (v) => v / cohort.length),
            fraction: cohort.length / fed.clients,
          }
        : undefined;
      global = server.apply(global, delta, control);
      setFlatWeights(model, global);
      const { accuracy: acc } = await evaluateMnist(model, test);
      accuracy.push(acc);
      onRound?.(run.label, round, acc);
      if (run.target !== undefined && acc >= run.target) {
        roundsToTarget = round;
        break;
      }
      // A diverged model (the attack won) stays diverged: no use training it further.
      if (!global.every(Number.isFinite)) break;
    }
  } finally {
    model.dispose();
  }
  const last = accuracy.slice(-5);
  return {
    label: run.label,
    strategy: config,
    accuracy,
    roundsToTarget,
    best: Math.max(0, ...accuracy),
    final: last.reduce((a, b) => a + b, 0) / Math.max(1, last.length),
    seconds: (performance.now() - started) / 1000,
  };
}
