import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initTf } from '@pollen/ml';
import * as tf from '@tensorflow/tfjs';

/** A model as tfjs saves it: model.json and its weight files by name, and its weights in order. */
export interface SavedModel {
  readonly json: Record<string, unknown>;
  readonly files: Map<string, Uint8Array>;
  readonly weights: Float32Array;
}

/** The task fields of {@link saveRegressionModel}'s model: 3 float features, one value predicted. */
export const REGRESSION_TASK = {
  input: { shape: [3], dtype: 'float32' },
  target: { kind: 'regression', shape: [1] },
  columns: { features: ['a', 'b', 'c'], target: 'price' },
} as const;

/**
 * A small float-feature regression model (3 -> 4 relu -> 1), saved the way tfjs' file and HTTP
 * handlers save one, its weights in two shards so the manifest names two files.
 */
export async function saveRegressionModel(seed = 1): Promise<SavedModel> {
  await initTf();
  const init = (s: number): ReturnType<typeof tf.initializers.glorotUniform> =>
    tf.initializers.glorotUniform({ seed: s });
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        name: 'h',
        units: 4,
        inputShape: [3],
        activation: 'relu',
        kernelInitializer: init(seed),
      }),
      tf.layers.dense({ name: 'out', units: 1, kernelInitializer: init(seed + 1), biasInitializer: 'ones' }),
    ],
  });
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  const bytes = new Uint8Array((artifacts!.weightData as ArrayBuffer).slice(0));
  const json = {
    format: 'layers-model',
    generatedBy: 'TensorFlow.js tfjs-layers',
    convertedBy: null,
    modelTopology: artifacts!.modelTopology,
    weightsManifest: [
      { paths: ['./group1-shard1of2.bin', './group1-shard2of2.bin'], weights: artifacts!.weightSpecs },
    ],
  };
  const files = new Map([
    ['group1-shard1of2.bin', bytes.slice(0, 32)],
    ['group1-shard2of2.bin', bytes.slice(32)],
  ]);
  return { json, files, weights: new Float32Array(bytes.buffer.slice(0)) };
}

/** Write a saved model into a folder: model.json and the weight files next to it. */
export function writeSavedModel(dir: string, saved: SavedModel): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'model.json');
  writeFileSync(path, JSON.stringify(saved.json));
  for (const [name, bytes] of saved.files) writeFileSync(join(dir, name), bytes);
  return path;
}

/** CSV rows of y = a + 2b - c (in the task's columns, with a user column to ignore). */
export function regressionCsv(rows: number): string {
  const lines = ['user,a,b,c,price'];
  for (let i = 0; i < rows; i++) {
    const [a, b, c] = [(i % 7) / 7, (i % 5) / 5, (i % 3) / 3];
    lines.push(`u${i % 4},${a},${b},${c},${a + 2 * b - c}`);
  }
  return `${lines.join('\n')}\n`;
}
