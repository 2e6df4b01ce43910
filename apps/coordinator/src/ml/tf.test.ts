import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { buildModel, evaluate, initTf, readWeights, writeWeights } from './tf.ts';

describe('held-out evaluation', () => {
  it('reports the mean cross-entropy: ln 10 for a model that predicts every class alike', async () => {
    await initTf();
    const topology = tf
      .sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 10, activation: 'softmax' })] })
      .toJSON(null, false) as unknown as Record<string, unknown>;
    const model = await buildModel(topology);
    // All weights zero: softmax of equal logits, p = 1/10 for every class whatever the input.
    writeWeights(model, new Float32Array((await readWeights(model)).length));
    const count = 600;
    const data = {
      count,
      features: 4,
      pixels: Uint8Array.from({ length: count * 4 }, (_, i) => (i * 37) % 256),
      labels: Uint8Array.from({ length: count }, (_, i) => i % 10),
    };
    const { loss, accuracy } = await evaluate(model, data, [4], 10);
    expect(loss).toBeCloseTo(Math.log(10), 4);
    // Ties go to class 0, a tenth of the labels.
    expect(accuracy).toBeCloseTo(0.1, 5);
    model.dispose();
  });
});
