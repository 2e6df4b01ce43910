import type { ExampleBatch } from '@pollen/compression';
import { loadMnist, pick } from '@pollen/coordinator';
import { partitionIid, seededRng } from '@pollen/fl-core';
import {
  arraySource,
  type BatchSource,
  buildModel,
  type ExampleSet,
  evaluate,
  getFlatWeights,
  initTf,
  inputTensor,
  modelTopology,
  type TrainTask,
  trainLocal,
} from '@pollen/ml';
import * as tf from '@tensorflow/tfjs';

/**
 * The coordinator's own MNIST split (8,000 training and 2,000 held-out digits, the same in
 * every process) as the built-in digits task describes it, for benchmarks that train outside
 * a coordinator. Training and evaluation come from @pollen/ml, as the worker's do.
 */
export { loadMnist };

/** The built-in digits task's input, target, loss and metrics (model: a 784-h-10 MLP). */
export function mnistTask(
  hidden: readonly number[] = [128],
): TrainTask & { model: { kind: 'mlp'; hidden: number[] } } {
  return {
    model: { kind: 'mlp', hidden: [...hidden] },
    input: { shape: [784], dtype: 'uint8', scale: 1 / 255 },
    target: { kind: 'class', numClasses: 10 },
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
  };
}

const TASK = mnistTask();

/** MNIST's uint8 digits as an example set (labels as int32 class ids). */
export function examplesOf(batch: ExampleBatch): ExampleSet {
  return { count: batch.count, x: batch.pixels, y: Int32Array.from(batch.labels) };
}

/** A batch of digits as a training source for @pollen/ml's trainLocal. */
export function sourceOf(batch: ExampleBatch): BatchSource {
  return arraySource(TASK, examplesOf(batch));
}

/** A batch as input and one-hot tensors, for the `model.fit` baselines. */
export function tensorsOf(batch: ExampleBatch): { xs: tf.Tensor; ys: tf.Tensor; count: number } {
  const xs = inputTensor(batch.pixels, batch.count, TASK.input);
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from(batch.labels), 'int32'), 10).toFloat());
  return { xs, ys, count: batch.count };
}

/** The tfjs topology of the digits MLP with these hidden layers. */
export function mlpTopology(hidden: readonly number[] = [128]): Promise<Record<string, unknown>> {
  return modelTopology(mnistTask(hidden));
}

/** A digits model from a topology. */
export function buildMnistModel(topology: Record<string, unknown>): Promise<tf.LayersModel> {
  return buildModel({ ...TASK, model: { topology } });
}

/** Held-out accuracy and loss of a model on digits. */
export async function evaluateMnist(
  model: tf.LayersModel,
  batch: ExampleBatch,
): Promise<{ accuracy: number; loss: number }> {
  const m = await evaluate(model, sourceOf(batch), TASK);
  return { accuracy: m.accuracy ?? 0, loss: m.loss ?? 0 };
}

/**
 * A real update: the delta one client of 400 IID training digits produces in one epoch from
 * a freshly initialised 784-128-10 MLP (d = 101,770), for codec figures that depend on
 * the values' distribution.
 */
export async function realDelta(seed = 1): Promise<Float32Array> {
  await initTf();
  const { train } = loadMnist();
  const shard = partitionIid(train.count, 20, seededRng(seed))[0]!;
  const model = await buildModel(TASK);
  const global = await getFlatWeights(model);
  const { delta } = await trainLocal(
    model,
    sourceOf(pick(train, shard)),
    global,
    { epochs: 1, batchSize: 32, learningRate: 0.1, optimizer: 'sgd' },
    TASK,
  );
  model.dispose();
  return delta;
}

/**
 * Milliseconds one client's local training takes per example and epoch when it has the machine
 * to itself: one of 20 IID shards (400 digits) trained with the given settings from a freshly
 * initialised 784-128-10 MLP, by @pollen/ml's trainLocal as a device does. Simulated clients
 * that share a process train interleaved, so their own clocks count each other's work.
 */
export async function msPerExampleAlone(training: {
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
}): Promise<number> {
  await initTf();
  const { train } = loadMnist();
  const shard = partitionIid(train.count, 20, seededRng(1))[0]!;
  const model = await buildModel(TASK);
  const global = await getFlatWeights(model);
  const source = sourceOf(pick(train, shard));
  const started = performance.now();
  await trainLocal(model, source, global, { ...training, optimizer: 'sgd' }, TASK);
  const ms = performance.now() - started;
  model.dispose();
  return ms / (shard.length * training.epochs);
}
