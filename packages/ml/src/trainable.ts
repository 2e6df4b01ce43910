import { flatten, PollenError, unflatten, type WeightSpec } from '@pollen/fl-core';
import * as tf from '@tensorflow/tfjs';
import { withLora } from './layers/lora.ts';

/**
 * Which weights of a model a task trains (docs/design.md, "Fine-tuning"): every weight; only the
 * named layers' (the others frozen at their pretrained values); or low-rank adapters on the
 * named Dense layers (LoRA, Hu et al. 2021), every base weight frozen.
 */
export type Trainable =
  | { readonly kind: 'all' }
  | { readonly kind: 'layers'; readonly names: readonly string[] }
  | {
      readonly kind: 'lora';
      readonly rank: number;
      readonly alpha: number;
      readonly layers: readonly string[];
    };

/**
 * The model a task trains, from its pretrained model: unchanged for `all`; the layers not named
 * frozen for `layers`; adapters on the named layers and everything else frozen for `lora`.
 */
export async function trainableModel(model: tf.LayersModel, trainable: Trainable): Promise<tf.LayersModel> {
  if (trainable.kind === 'all') return model;
  if (trainable.kind === 'lora') return withLora(model, trainable);
  const names = new Set(trainable.names);
  for (const layer of model.layers) {
    const keep = names.delete(layer.name);
    if (!keep) layer.trainable = false;
  }
  if (names.size > 0) throw new PollenError('INVALID_TASK', `no layer named ${[...names].join(', ')}`);
  return model;
}

/**
 * The weights a round's vector holds: every weight of the model when it trains them all (as
 * every task did before fine-tuning: a batch normalization's running statistics travel too),
 * else only its trainable ones; the rest is the frozen base, downloaded once.
 */
export function roundVariables(model: tf.LayersModel, trainable: Trainable): tf.LayerVariable[] {
  return trainable.kind === 'all' ? model.weights : model.trainableWeights;
}

/** The frozen base: the model's weights outside the round's vector (none when it trains them all). */
export function frozenVariables(model: tf.LayersModel, trainable: Trainable): tf.LayerVariable[] {
  const inRound = new Set(roundVariables(model, trainable));
  return model.weights.filter((w) => !inRound.has(w));
}

/** The layout of some of a model's weights, by the names tfjs loads them under. */
export function layoutOf(variables: readonly tf.LayerVariable[]): WeightSpec {
  return variables.map((w) => ({ name: w.originalName, shape: w.shape.map((d) => d ?? 1) }));
}

/** Some of a model's weights as one flat vector, in their order. */
export async function readVector(variables: readonly tf.LayerVariable[]): Promise<Float32Array> {
  const values = await Promise.all(variables.map((w) => w.read().data() as Promise<Float32Array>));
  return flatten(
    layoutOf(variables),
    values.map((v) => (v instanceof Float32Array ? v : Float32Array.from(v))),
  );
}

/** Write a flat vector into some of a model's weights, in their order; the others stay as they are. */
export function writeVector(variables: readonly tf.LayerVariable[], vector: Float32Array): void {
  const layout = layoutOf(variables);
  const total = layout.reduce((n, e) => n + e.shape.reduce((a, b) => a * b, 1), 0);
  if (total !== vector.length) {
    throw new PollenError('SHAPE_MISMATCH', `the weights hold ${total} values, the vector ${vector.length}`);
  }
  const parts = unflatten(layout, vector);
  for (const [i, w] of variables.entries()) {
    const t = tf.tensor(parts[i]!, layout[i]!.shape as number[], 'float32');
    w.write(t);
    t.dispose();
  }
}
