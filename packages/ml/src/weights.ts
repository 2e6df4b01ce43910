import { flatten, PollenError, unflatten, type WeightSpec } from '@pollen/fl-core';
import * as tf from '@tensorflow/tfjs';

/** The ordered weight layout of a model, by the names tfjs uses to load weights. */
export function weightSpecOf(model: tf.LayersModel): WeightSpec {
  return model.weights.map((w) => ({ name: w.originalName, shape: w.shape.map((d) => d ?? 1) }));
}

/** A model's weights as one flat vector (read with `data()`, which is fast on WebGPU). */
export async function getFlatWeights(model: tf.LayersModel): Promise<Float32Array> {
  const spec = weightSpecOf(model);
  const values = await Promise.all(model.getWeights().map((w) => w.data() as Promise<Float32Array>));
  return flatten(
    spec,
    values.map((v) => (v instanceof Float32Array ? v : Float32Array.from(v))),
  );
}

/** Load a flat vector into a model's weights, in the model's weight order. */
export function setFlatWeights(model: tf.LayersModel, vector: Float32Array): void {
  const spec = weightSpecOf(model);
  const total = spec.reduce((n, e) => n + e.shape.reduce((a, b) => a * b, 1), 0);
  if (total !== vector.length) {
    throw new PollenError('SHAPE_MISMATCH', `model has ${total} weights, the vector ${vector.length}`);
  }
  const parts = unflatten(spec, vector);
  const tensors = parts.map((values, i) => tf.tensor(values, spec[i]!.shape as number[], 'float32'));
  model.setWeights(tensors);
  tf.dispose(tensors);
}
