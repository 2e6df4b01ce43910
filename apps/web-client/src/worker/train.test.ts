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

/** Two separable classes: bright first half or bright second half. */
function separable(n = 64): { pixels: number[]; labels: number[] } {
  const pixels: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = i % 2;
    pixels.push(...(y ? [0, 0, 255, 255] : [255, 255, 0, 0]));
    labels.push(y);
  }
  return { pixels, labels };
}

const norm = (v: Float32Array): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

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
    expect(first.metrics.metrics.accuracy).toBeGreaterThan(0.9);
    expect(second.metrics.metrics.loss).toBeLessThan(0.7);
    // The delta is exactly what moved: global + delta are the trained weights.
    const trained = await getFlatWeights(model);
    trained.forEach((w, i) => {
      expect(w).toBeCloseTo(global[i]! + second.delta[i]!, 5);
    });
    expect(() => setFlatWeights(model, new Float32Array(3))).toThrow(/model has 10 weights/);
    tf.dispose([data.xs, data.ys]);
    model.dispose();
  });

  it('FedProx (mu > 0) trains with its own loop, leaks nothing, and stays nearer the global model', async () => {
    const model = await buildModel(topology());
    const { pixels, labels } = separable();
    const data = toTensors(pixels, labels, [4], 2);
    const global = await getFlatWeights(model);
    // Full batches, so the shuffle cannot make the two runs differ by more than the proximal term.
    const training = { epochs: 20, batchSize: 64, learningRate: 0.5, optimizer: 'sgd' as const };
    const plain = await trainLocal(model, data, global, training);
    await trainLocal(model, data, global, training, undefined, { proximalMu: 0.2 });
    const before = tf.memory().numTensors;
    const progress: number[] = [];
    const prox = await trainLocal(model, data, global, training, (p) => progress.push(p.batch), {
      proximalMu: 0.2,
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(prox.steps).toBe(20);
    expect(progress).toHaveLength(20);
    expect(prox.metrics.metrics.accuracy).toBeGreaterThan(0.9);
    expect(prox.metrics.metrics.loss).toBeLessThan(0.69);
    expect(prox.scaffold).toBeUndefined();
    expect(norm(prox.delta)).toBeLessThan(norm(plain.delta));
    const trained = await getFlatWeights(model);
    trained.forEach((w, i) => {
      expect(w).toBeCloseTo(global[i]! + prox.delta[i]!, 5);
    });
    await expect(trainLocal(model, data, global, training, undefined, { proximalMu: -1 })).rejects.toThrow(
      /mu/,
    );
    tf.dispose([data.xs, data.ys]);
    model.dispose();
  });

  it('SCAFFOLD corrects each step by c - c_i and returns option II c_i+ and Delta c_i', async () => {
    const model = await buildModel(topology());
    const { pixels, labels } = separable(16);
    const data = toTensors(pixels, labels, [4], 2);
    const global = await getFlatWeights(model);
    const d = global.length;
    // One full-batch step (K = 1): y = x - lr * (g(x) + c - c_i), whatever the shuffle.
    const training = { epochs: 1, batchSize: 16, learningRate: 0.5, optimizer: 'sgd' as const };
    const zero = new Float32Array(d);
    const base = await trainLocal(model, data, global, training, undefined, {
      scaffold: { c: zero, ci: zero },
    });
    const c = Float32Array.from({ length: d }, (_, i) => (i % 3) - 1);
    const ci = new Float32Array(d).fill(0.25);
    const before = tf.memory().numTensors;
    const out = await trainLocal(model, data, global, training, undefined, { scaffold: { c, ci } });
    expect(tf.memory().numTensors).toBe(before);
    expect(out.steps).toBe(1);
    for (let i = 0; i < d; i++) {
      expect(out.delta[i]).toBeCloseTo(base.delta[i]! - 0.5 * (c[i]! - ci[i]!), 5);
      // c_i+ = c_i - c + (x - y) / (K lr), and Delta c_i = c_i+ - c_i.
      const expected = ci[i]! - c[i]! - out.delta[i]! / 0.5;
      expect(out.scaffold!.ci[i]).toBeCloseTo(expected, 4);
      expect(out.scaffold!.deltaC[i]).toBeCloseTo(expected - ci[i]!, 4);
    }
    await expect(
      trainLocal(model, data, global, { ...training, optimizer: 'adam' }, undefined, { scaffold: { c, ci } }),
    ).rejects.toThrow(/plain SGD/);
    tf.dispose([data.xs, data.ys]);
    model.dispose();
  });
});
