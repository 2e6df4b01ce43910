import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel, getFlatWeights, setFlatWeights, toTensors, trainLocal } from './train.ts';

const topology = (): Record<string, unknown> => {
  const m = tf.sequential({
    name: 'tiny',
    layers: [tf.layers.dense({ name: 'out', inputShape: [4], units: 2, activation: 'softmax' })],
  });
  const json = m.toJSON(null, false) as unknown as Record<string, unknown>;
  m.dispose();
  return json;
};

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('local training', () => {
  it('returns w_local - w_global that lowers the loss, and leaks no tensors across rounds', async () => {
    const model = await buildModel(topology());
    // Two separable classes: bright first half or bright second half.
    const pixels: number[] = [];
    const labels: number[] = [];
    for (let i = 0; i < 64; i++) {
      const y = i % 2;
      pixels.push(...(y ? [0, 0, 255, 255] : [255, 255, 0, 0]));
      labels.push(y);
    }
    const data = toTensors(pixels, labels, [4], 2);
    const global = await getFlatWeights(model);
    const before = tf.memory().numTensors;
    const training = { epochs: 5, batchSize: 8, learningRate: 0.5, optimizer: 'sgd' as const };
    const first = await trainLocal(model, data, global, training);
    const afterFirst = tf.memory().numTensors;
    const second = await trainLocal(model, data, global, training);
    expect(tf.memory().numTensors).toBe(afterFirst);
    expect(afterFirst - before).toBeLessThanOrEqual(2);
    expect(first.delta).toHaveLength(global.length);
    expect(first.delta.every(Number.isFinite)).toBe(true);
    expect(first.numExamples).toBe(64);
    expect(first.metrics.accuracy).toBeGreaterThan(0.9);
    expect(second.metrics.loss).toBeLessThan(0.7);
    // The delta is exactly what moved: global + delta are the trained weights.
    const trained = await getFlatWeights(model);
    trained.forEach((w, i) => {
      expect(w).toBeCloseTo(global[i]! + second.delta[i]!, 5);
    });
    expect(() => setFlatWeights(model, new Float32Array(3))).toThrow(/model has 10 weights/);
    tf.dispose([data.xs, data.ys]);
    model.dispose();
  });
});
