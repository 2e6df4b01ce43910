import type { ClientMetrics, TrainingSpec } from '@pollen/fl-core';
import * as tf from '@tensorflow/tfjs';

/**
 * Local training, shared by the browser's training worker and the Node simulations so both
 * run the same math: load the global weights, fit on local examples, return the delta.
 * Only tfjs here: no DOM, no IndexedDB, no sockets.
 */

export interface LocalData {
  readonly xs: tf.Tensor;
  readonly ys: tf.Tensor;
  readonly count: number;
}

export interface Progress {
  readonly epoch: number;
  readonly epochs: number;
  readonly batch: number;
  readonly batches: number;
  readonly loss: number;
}

export interface LocalResult {
  /** w_local - w_global. */
  readonly delta: Float32Array;
  readonly numExamples: number;
  readonly metrics: ClientMetrics;
}

/** Build a Layers model from its topology (the `modelTopology` of a model.json). */
export function buildModel(modelTopology: Record<string, unknown>): Promise<tf.LayersModel> {
  return tf.models.modelFromJSON({ modelTopology } as never);
}

/** Load a flat vector into a model's weights, in the model's weight order. */
export function setFlatWeights(model: tf.LayersModel, vector: Float32Array): void {
  const sizes = model.weights.map((w) => w.shape.reduce<number>((a, b) => a * (b ?? 1), 1));
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total !== vector.length) throw new Error(`model has ${total} weights, the vector ${vector.length}`);
  let offset = 0;
  const tensors = model.weights.map((w, i) => {
    const t = tf.tensor(vector.subarray(offset, offset + sizes[i]!), w.shape as number[]);
    offset += sizes[i]!;
    return t;
  });
  model.setWeights(tensors);
  tf.dispose(tensors);
}

/** A model's weights as one flat vector (read with `data()`, which is fast on WebGPU). */
export async function getFlatWeights(model: tf.LayersModel): Promise<Float32Array> {
  const parts = await Promise.all(model.getWeights().map((w) => w.data() as Promise<Float32Array>));
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Labelled 0..255 pixels as normalised input and one-hot label tensors. */
export function toTensors(
  pixels: ArrayLike<number>,
  labels: ArrayLike<number>,
  inputShape: readonly number[],
  numClasses: number,
): LocalData {
  const count = labels.length;
  const xs = tf.tidy(() => tf.tensor(Float32Array.from(pixels), [count, ...inputShape]).div(255));
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from(labels), 'int32'), numClasses).toFloat());
  return { xs, ys, count };
}

/**
 * Fit the model, starting from the global weights, on local data for the round's
 * hyper-parameters, and return the update. Tensors it makes are disposed before it returns.
 */
export async function trainLocal(
  model: tf.LayersModel,
  data: LocalData,
  global: Float32Array,
  training: TrainingSpec,
  onProgress?: (p: Progress) => void,
): Promise<LocalResult> {
  const started = performance.now();
  setFlatWeights(model, global);
  const { epochs, batchSize, learningRate, optimizer } = training;
  const opt = optimizer === 'adam' ? tf.train.adam(learningRate) : tf.train.sgd(learningRate);
  model.compile({ optimizer: opt, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const batches = Math.ceil(data.count / batchSize);
  let epoch = 0;
  const history = await model.fit(data.xs, data.ys, {
    epochs,
    batchSize,
    shuffle: true,
    verbose: 0,
    callbacks: onProgress
      ? {
          onEpochBegin: async (e) => {
            epoch = e;
          },
          onBatchEnd: async (batch, logs) => {
            onProgress({ epoch, epochs, batch: batch + 1, batches, loss: logs?.loss ?? 0 });
          },
        }
      : undefined,
  });
  const local = await getFlatWeights(model);
  opt.dispose();
  const delta = new Float32Array(global.length);
  for (let i = 0; i < delta.length; i++) delta[i] = local[i]! - global[i]!;
  const last = (name: string): number => {
    const series = history.history[name];
    const value = Number(series?.[series.length - 1] ?? 0);
    return Number.isFinite(value) ? value : 0;
  };
  return {
    delta,
    numExamples: data.count,
    metrics: {
      loss: last('loss'),
      accuracy: Math.min(1, Math.max(0, last('acc') || last('accuracy'))),
      trainMs: performance.now() - started,
    },
  };
}
