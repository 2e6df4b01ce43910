import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initTf } from './backend.ts';
import { evaluate } from './evaluate.ts';
import { buildModel } from './model.ts';
import { inputTensor } from './preprocess.ts';
import { arraySource } from './source.ts';
import type { TrainTask } from './train.ts';
import { getFlatWeights, setFlatWeights } from './weights.ts';

describe('evaluation on held-out examples', () => {
  it('reports ln 10 and a tenth for a model that predicts every class alike, in batches', async () => {
    await initTf();
    const task: TrainTask & { model: { kind: 'mlp'; hidden: number[] } } = {
      model: { kind: 'mlp', hidden: [3] },
      input: { shape: [4], dtype: 'uint8', scale: 1 / 255 },
      target: { kind: 'class', numClasses: 10 },
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['accuracy', { name: 'topKAccuracy', k: 5 }],
    };
    const model = await buildModel(task);
    // All weights zero: softmax of equal logits, p = 1/10 for every class whatever the input.
    setFlatWeights(model, new Float32Array((await getFlatWeights(model)).length));
    const count = 600;
    const set = {
      count,
      x: Uint8Array.from({ length: count * 4 }, (_, i) => (i * 37) % 256),
      y: Int32Array.from({ length: count }, (_, i) => i % 10),
    };
    const before = tf.memory().numTensors;
    const m = await evaluate(model, arraySource(task, set), task, 128);
    expect(tf.memory().numTensors).toBe(before);
    expect(m.loss).toBeCloseTo(Math.log(10), 4);
    // Ties go to class 0, a tenth of the labels.
    expect(m.accuracy).toBeCloseTo(0.1, 5);
    expect(m['topKAccuracy@5']).toBeGreaterThanOrEqual(0.5);
    model.dispose();
  });

  it('preprocesses features by the input spec: value * scale + offset', async () => {
    await initTf();
    const t = inputTensor(Uint8Array.of(0, 255, 51, 102), 2, {
      shape: [2],
      dtype: 'uint8',
      scale: 2 / 255,
      offset: -1,
    });
    expect(t.shape).toEqual([2, 2]);
    const v = Array.from(await t.data());
    expect(v[0]).toBeCloseTo(-1, 6);
    expect(v[1]).toBeCloseTo(1, 6);
    expect(v[2]).toBeCloseTo(-0.6, 6);
    expect(v[3]).toBeCloseTo(-0.2, 6);
    t.dispose();
  });
});
