import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { ExampleBatch } from '@pollen/compression';
import { flatten, unflatten, type WeightSpec } from '@pollen/fl-core';

let ready: Promise<string> | undefined;

/**
 * tfjs on Node without tfjs-node: the WASM backend when it loads, the CPU backend otherwise.
 * Resolves to the backend in use.
 */
export function initTf(): Promise<string> {
  ready ??= (async () => {
    const ok = await tf.setBackend('wasm').catch(() => false);
    if (!ok) await tf.setBackend('cpu');
    await tf.ready();
    return tf.getBackend();
  })();
  return ready;
}

/** Build a Layers model from its topology (the `modelTopology` of a model.json). */
export async function buildModel(topology: Record<string, unknown>): Promise<tf.LayersModel> {
  await initTf();
  return tf.models.modelFromJSON({ modelTopology: topology } as unknown as Parameters<
    typeof tf.models.modelFromJSON
  >[0]);
}

/** The ordered weight layout of a model, by the names tfjs uses to load weights. */
export function weightSpecOf(model: tf.LayersModel): WeightSpec {
  return model.weights.map((w) => ({ name: w.originalName, shape: w.shape.map((d) => d ?? 1) }));
}

/** The model's current weights as one flat vector. */
export async function readWeights(model: tf.LayersModel): Promise<Float32Array> {
  const spec = weightSpecOf(model);
  const values = await Promise.all(model.getWeights().map((w) => w.data() as Promise<Float32Array>));
  return flatten(spec, values);
}

/** Load a flat vector into the model's weights. */
export function writeWeights(model: tf.LayersModel, vector: Float32Array): void {
  const spec = weightSpecOf(model);
  const parts = unflatten(spec, vector);
  const tensors = parts.map((values, i) => tf.tensor(values, spec[i]!.shape as number[], 'float32'));
  model.setWeights(tensors);
  tf.dispose(tensors);
}

export interface Evaluation {
  readonly accuracy: number;
  readonly loss: number;
}

/**
 * Held-out accuracy and cross-entropy of a model on labelled uint8 examples, in batches so
 * memory stays bounded.
 */
export async function evaluate(
  model: tf.LayersModel,
  data: ExampleBatch,
  inputShape: readonly number[],
  numClasses: number,
): Promise<Evaluation> {
  const batch = 500;
  let correct = 0;
  let lossSum = 0;
  for (let start = 0; start < data.count; start += batch) {
    const n = Math.min(batch, data.count - start);
    const [c, l] = tf.tidy(() => {
      const pixels = data.pixels.subarray(start * data.features, (start + n) * data.features);
      const x = tf.tensor(
        Float32Array.from(pixels, (p) => p / 255),
        [n, ...inputShape],
      );
      const labels = tf.tensor1d(Int32Array.from(data.labels.subarray(start, start + n)), 'int32');
      const probs = model.predict(x) as tf.Tensor2D;
      const hits = probs.argMax(-1).equal(labels).sum();
      const y = tf.oneHot(labels, numClasses);
      // The fourth argument is label smoothing: 0, so the reduction really is SUM.
      const loss = tf.losses.softmaxCrossEntropy(
        y,
        tf.log(probs.clipByValue(1e-7, 1)),
        undefined,
        0,
        tf.Reduction.SUM,
      );
      return [hits, loss];
    });
    correct += (await c!.data())[0]!;
    lossSum += (await l!.data())[0]!;
    tf.dispose([c!, l!]);
  }
  return { accuracy: correct / data.count, loss: lossSum / data.count };
}
