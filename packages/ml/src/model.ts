import {
  expectedOutputShape,
  type InputSpec,
  type ModelShorthand,
  type ModelSpec,
  outputUnits,
  PollenError,
  type TargetSpec,
} from '@pollen/fl-core';
import * as tf from '@tensorflow/tfjs';
// Pollen's own layers, registered with tfjs so a topology naming them loads everywhere a model is built.
import './layers/attention.ts';
import './layers/last-position.ts';
import './layers/layer-norm.ts';
import './layers/one-hot.ts';
import './layers/position-embedding.ts';
import { base64ToBytes } from './base64.ts';

/** The parts of a task that say what model to build. */
export interface ModelTask {
  readonly model: ModelSpec;
  readonly input: InputSpec;
  readonly target: TargetSpec;
}

type Topology = Record<string, unknown>;

function outputLayers(target: TargetSpec): tf.layers.Layer[] {
  const units = outputUnits(target);
  const activation =
    target.kind === 'multilabel' ? 'sigmoid' : target.kind === 'regression' ? 'linear' : 'softmax';
  const out: tf.layers.Layer[] = [tf.layers.dense({ name: 'output', units, activation })];
  if (target.kind === 'regression' && target.shape.length > 1) {
    out.push(tf.layers.reshape({ name: 'output_shape', targetShape: [...target.shape] }));
  }
  return out;
}

/**
 * A built-in shorthand as a tfjs Sequential model. Layers are named explicitly (hidden1,
 * conv1, output, ...) so weight names are the same in every process that builds them; the
 * MNIST defaults (`{ kind: 'mlp', hidden: [128] }` on [784], `{ kind: 'cnn' }` on [28, 28, 1])
 * build exactly the models earlier versions shipped.
 */
function shorthandModel(model: ModelShorthand, input: InputSpec, target: TargetSpec): tf.Sequential {
  const inputShape = [...input.shape];
  const layers: tf.layers.Layer[] = [];
  if (model.kind === 'mlp') {
    if (inputShape.length > 1) layers.push(tf.layers.flatten({ name: 'flat', inputShape }));
    model.hidden.forEach((units, i) => {
      layers.push(
        tf.layers.dense({
          name: `hidden${i + 1}`,
          units,
          activation: model.activation ?? 'relu',
          ...(i === 0 && inputShape.length === 1 ? { inputShape } : {}),
        }),
      );
    });
  } else {
    const kernelSize = model.kernelSize ?? 5;
    (model.filters ?? [8]).forEach((filters, i) => {
      layers.push(
        tf.layers.conv2d({
          name: `conv${i + 1}`,
          filters,
          kernelSize,
          activation: 'relu',
          ...(i === 0 ? { inputShape } : {}),
        }),
      );
      layers.push(tf.layers.maxPooling2d({ name: `pool${i + 1}`, poolSize: 2 }));
    });
    layers.push(tf.layers.flatten({ name: 'flat' }));
    (model.dense ?? []).forEach((units, i) => {
      layers.push(tf.layers.dense({ name: `dense${i + 1}`, units, activation: 'relu' }));
    });
  }
  return tf.sequential({ name: model.kind, layers: [...layers, ...outputLayers(target)] });
}

function fromTopology(topology: Topology): Promise<tf.LayersModel> {
  return tf.models.modelFromJSON({ modelTopology: topology } as unknown as Parameters<
    typeof tf.models.modelFromJSON
  >[0]);
}

/**
 * The tfjs Layers topology (model.json's `modelTopology`) of a task's model: a shorthand
 * expanded, a topology as given.
 */
export async function modelTopology(task: ModelTask): Promise<Topology> {
  if (!('kind' in task.model)) return task.model.topology;
  const model = shorthandModel(task.model, task.input, task.target);
  const topology = model.toJSON(null, false) as unknown as Topology;
  model.dispose();
  return topology;
}

/**
 * Build a task's model: a shorthand or a topology, with its initial weights when the spec
 * carries some (loaded by tfjs from the weight specs and bytes, as `tf.loadLayersModel` does).
 * A topology tfjs cannot read is refused with INVALID_TASK naming `model.topology`.
 */
export async function buildModel(task: ModelTask): Promise<tf.LayersModel> {
  const spec = task.model;
  if ('kind' in spec) return shorthandModel(spec, task.input, task.target);
  try {
    if (!spec.weights) return await fromTopology(spec.topology);
    const data = base64ToBytes(spec.weights.data);
    return await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: spec.topology,
        weightSpecs: spec.weights.specs.map((w) => ({ name: w.name, shape: [...w.shape], dtype: w.dtype })),
        weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer,
      }),
    );
  } catch (err) {
    if (err instanceof PollenError) throw err;
    throw new PollenError('INVALID_TASK', `"model.topology" tfjs cannot build it: ${(err as Error).message}`);
  }
}

function sameShape(a: readonly (number | null)[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === null || d === b[i]);
}

const show = (s: readonly (number | null)[]): string => `[${s.map((d) => d ?? '?').join(', ')}]`;

/**
 * Refuse a model whose input or output shape disagrees with the task's `input` and `target`
 * (INVALID_TASK naming the field), so a mistake shows at creation, not on every device.
 */
export function checkModelFits(model: tf.LayersModel, task: Omit<ModelTask, 'model'>): void {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new PollenError(
      'INVALID_TASK',
      `"model" expected one input and one output, got ${model.inputs.length} and ${model.outputs.length}`,
    );
  }
  const inShape = model.inputs[0]!.shape.slice(1);
  if (!sameShape(inShape, task.input.shape)) {
    throw new PollenError(
      'INVALID_TASK',
      `"input.shape" ${show(task.input.shape)} disagrees with the model's input ${show(inShape)}`,
    );
  }
  const outShape = model.outputs[0]!.shape.slice(1);
  const expected = expectedOutputShape(task.input, task.target);
  if (!sameShape(outShape, expected)) {
    throw new PollenError(
      'INVALID_TASK',
      `"target" (${task.target.kind}) needs a model output of ${show(expected)}, the model gives ${show(outShape)}`,
    );
  }
}
