import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTf } from '../backend.ts';
import { OneHot } from './one-hot.ts';

beforeAll(async () => {
  await initTf();
});

function model(): tf.Sequential {
  const m = tf.sequential();
  m.add(new OneHot({ depth: 5, inputShape: [3] }));
  m.add(tf.layers.gru({ units: 4 }));
  m.add(tf.layers.dense({ units: 5, activation: 'softmax' }));
  return m;
}

describe('the OneHot layer', () => {
  it('turns ids into one-hot vectors, out-of-range ids into zeros', () => {
    const layer = new OneHot({ depth: 3 });
    const out = layer.apply(tf.tensor2d([[0, 2, 7]])) as tf.Tensor;
    expect(out.shape).toEqual([1, 3, 3]);
    expect(out.arraySync()).toEqual([
      [
        [1, 0, 0],
        [0, 0, 1],
        [0, 0, 0],
      ],
    ]);
    expect(() => new OneHot({ depth: 0 })).toThrow(/"depth" expected an integer/);
  });

  it('round-trips through tfjs save and load, predicting the same', async () => {
    const m = model();
    let saved: tf.io.ModelArtifacts | undefined;
    await m.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    expect(JSON.stringify(saved!.modelTopology)).toContain('"class_name":"PollenOneHot"');
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
    const x = tf.tensor2d([
      [1, 2, 3],
      [4, 0, 1],
    ]);
    expect((loaded.predict(x) as tf.Tensor).arraySync()).toEqual((m.predict(x) as tf.Tensor).arraySync());
  });

  it('trains a recurrent model on the WASM backend (where an Embedding cannot)', async () => {
    const m = model();
    m.compile({ optimizer: tf.train.adam(0.05), loss: 'sparseCategoricalCrossentropy' });
    // Predict the last id of the context: learnable in a few steps.
    const ids = [
      [0, 1, 2],
      [1, 2, 3],
      [2, 3, 4],
      [3, 4, 0],
    ];
    const x = tf.tensor2d(ids);
    const y = tf.tensor1d(
      ids.map((r) => r[2]!),
      'float32',
    );
    const history = await m.fit(x, y, { epochs: 30, verbose: 0 });
    const losses = history.history.loss as number[];
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
  });
});
