import {
  flatten,
  PollenError,
  TRAIN_ALL,
  type TrainableSpec,
  unflatten,
  type WeightSpec,
} from '@pollen/fl-core';
import * as tf from '@tensorflow/tfjs';
import { withLora } from './layers/lora.ts';
import { buildModel, type ModelTask } from './model.ts';
import { getFlatWeights, setFlatWeights } from './weights.ts';

/**
 * Which weights of a model a task trains (docs/design.md, "Fine-tuning"): every weight; only the
 * named layers' (the others frozen at their pretrained values); or low-rank adapters on the
 * named Dense layers (LoRA, Hu et al. 2021), every base weight frozen. The task's
 * `training.trainable` (fl-core's schema).
 */
export type Trainable = TrainableSpec;

/** A task's trainable block, `all` when it has none. */
export function trainableOf(training: { readonly trainable?: Trainable | undefined }): Trainable {
  return training.trainable ?? TRAIN_ALL;
}

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
 * Build the model a task trains: its model (with its initial weights: the pretrained base) made
 * trainable as `trainable` says. The same on the coordinator, the devices and the simulations.
 */
export async function buildTrainingModel(task: ModelTask, trainable: Trainable): Promise<tf.LayersModel> {
  const model = await buildModel(task);
  try {
    const trained = await trainableModel(model, trainable);
    // withLora builds a new model with the pretrained weights copied in: the old one is spent.
    if (trained !== model) model.dispose();
    return trained;
  } catch (err) {
    model.dispose();
    if (err instanceof PollenError) throw err;
    throw new PollenError('INVALID_TASK', `"training.trainable" ${(err as Error).message}`);
  }
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

/**
 * Write a round's vector into the model: every weight for `all` (exactly as before
 * fine-tuning), else only the round's variables, the frozen base left as it is.
 */
export function setRoundVector(model: tf.LayersModel, trainable: Trainable, vector: Float32Array): void {
  if (trainable.kind === 'all') setFlatWeights(model, vector);
  else writeVector(roundVariables(model, trainable), vector);
}

/** The model's round vector: every weight for `all`, else only the round's variables. */
export function getRoundVector(model: tf.LayersModel, trainable: Trainable): Promise<Float32Array> {
  return trainable.kind === 'all' ? getFlatWeights(model) : readVector(roundVariables(model, trainable));
}
