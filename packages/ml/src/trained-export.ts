import { PollenError, type WeightEntrySpec } from '@pollen/fl-core';
import * as tf from '@tensorflow/tfjs';
import { mergeLora } from './layers/lora.ts';
import { setRoundVector, type Trainable } from './trainable.ts';

/** A model as tfjs saves it: what a model.json and its weights.bin hold. */
export interface SavedModel {
  readonly modelTopology: Record<string, unknown>;
  readonly weightSpecs: WeightEntrySpec[];
  /** The weights, little-endian float32, in the order of `weightSpecs`. */
  readonly weightData: Uint8Array;
}

async function save(model: tf.LayersModel): Promise<SavedModel> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const a = artifacts!;
  const data = a.weightData as ArrayBuffer;
  return {
    modelTopology: a.modelTopology as Record<string, unknown>,
    weightSpecs: (a.weightSpecs ?? []).map((s) => ({
      name: s.name,
      shape: [...s.shape],
      dtype: s.dtype === 'int32' ? 'int32' : 'float32',
    })),
    weightData: new Uint8Array(data),
  };
}

/** A copy of `model` with every layer trainable: its weights in the order of its layers. */
async function unfrozen(model: tf.LayersModel): Promise<tf.LayersModel> {
  const topology = JSON.parse(JSON.stringify(model.toJSON(undefined, false))) as {
    config: { layers: { config: Record<string, unknown> }[] };
  };
  for (const layer of topology.config.layers) layer.config.trainable = true;
  const copy = await tf.models.modelFromJSON({
    modelTopology: topology as unknown as tf.io.ModelJSON['modelTopology'],
  });
  for (const [i, layer] of model.layers.entries()) copy.layers[i]!.setWeights(layer.getWeights());
  return copy;
}

/**
 * How a fine-tuned model is exported: `merged`, a plain tfjs Layers model; `adapters`, a LoRA
 * task's model as it trains, its adapters beside the frozen base (Pollen's layers registered to
 * load it: the form to fine-tune further, or to swap adapters over one base).
 */
export type ExportForm = 'merged' | 'adapters';

/**
 * A fine-tuned model as a plain tfjs Layers model: the round's vector written over the frozen
 * base, and LoRA's adapters folded into their Dense layers (`mergeLora`), so that
 * `tf.loadLayersModel` reads the export without any Pollen class for the adapters. With form
 * `adapters` (LoRA tasks only) the adapters stay separate.
 */
export async function trainedModel(
  model: tf.LayersModel,
  trainable: Trainable,
  vector: Float32Array,
  form: ExportForm = 'merged',
): Promise<SavedModel> {
  if (form === 'adapters' && trainable.kind !== 'lora') {
    throw new PollenError(
      'INVALID_ARGUMENT',
      `"form" adapters needs a LoRA task; this one trains ${trainable.kind}`,
    );
  }
  setRoundVector(model, trainable, vector);
  if (trainable.kind === 'all' || form === 'adapters') return save(model);
  // Frozen layers unfrozen on the way out: tfjs orders a model's weights trainable first.
  const merged = trainable.kind === 'lora' ? await mergeLora(model) : await unfrozen(model);
  try {
    return await save(merged);
  } finally {
    merged.dispose();
  }
}
