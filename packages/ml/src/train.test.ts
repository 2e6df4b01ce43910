import { gaussian, seededRng } from '@pollen/fl-core';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTf } from './backend.ts';
import { buildModel } from './model.ts';
import { arraySource } from './source.ts';
import { type TrainTask, trainLocal } from './train.ts';
import { getFlatWeights, setFlatWeights } from './weights.ts';

function softmaxTopology(): Record<string, unknown> {
  const m = tf.sequential({
    layers: [tf.layers.dense({ name: 'out', inputShape: [4], units: 2, activation: 'softmax' })],
  });
  const json = m.toJSON(null, false) as unknown as Record<string, unknown>;
  m.dispose();
  return json;
}

let TASK: TrainTask & { model: { topology: Record<string, unknown> } };

beforeAll(async () => {
  await initTf();
  TASK = {
    model: { topology: softmaxTopology() },
    input: { shape: [4], dtype: 'uint8', scale: 1 / 255 },
    target: { kind: 'class', numClasses: 2 },
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
  };
});

/** Two separable classes: bright first half or bright second half. */
function separable(n = 64) {
  const x = new Uint8Array(n * 4);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 2;
    x.set(y[i] ? [0, 0, 255, 255] : [255, 255, 0, 0], i * 4);
  }
  return arraySource(TASK, { count: n, x, y });
}

/** A device's clock that moves only when told: by training's progress, and by its pauses. */
class FakeClock {
  t = 0;
  slept = 0;
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
  async sleep(ms: number): Promise<void> {
    this.t += ms;
    this.slept += ms;
  }
}

const norm = (v: Float32Array): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const sgd = (epochs: number, batchSize: number, learningRate = 0.5) => ({
  epochs,
  batchSize,
  learningRate,
  optimizer: 'sgd' as const,
});

describe('local training', () => {
  it('returns w_local - w_global that lowers the loss, reports the task metrics, and leaks no tensors', async () => {
    const model = await buildModel(TASK);
    const data = separable();
    const global = await getFlatWeights(model);
    const before = tf.memory().numTensors;
    const first = await trainLocal(model, data, global, sgd(4, 16, 2), TASK);
    const afterFirst = tf.memory().numTensors;
    const second = await trainLocal(model, data, global, sgd(4, 16, 2), TASK);
    expect(tf.memory().numTensors).toBe(afterFirst);
    expect(afterFirst - before).toBeLessThanOrEqual(2);
    expect(first.delta).toHaveLength(global.length);
    expect(first.delta.every(Number.isFinite)).toBe(true);
    expect(first.numExamples).toBe(64);
    expect(first.steps).toBe(16);
    expect(Object.keys(second.metrics).sort()).toEqual(['accuracy', 'loss']);
    expect(second.metrics.accuracy).toBeGreaterThan(0.9);
    expect(second.metrics.loss).toBeLessThan(0.5);
    // The delta is exactly what moved: global + delta are the trained weights.
    const trained = await getFlatWeights(model);
    trained.forEach((w, i) => {
      expect(w).toBeCloseTo(global[i]! + second.delta[i]!, 5);
    });
    expect(() => setFlatWeights(model, new Float32Array(3))).toThrow(/model has 10 weights/);
    await expect(
      trainLocal(
        model,
        arraySource(TASK, { count: 0, x: new Uint8Array(0), y: new Int32Array(0) }),
        global,
        sgd(1, 8),
        TASK,
      ),
    ).rejects.toThrow(/no local examples/);
    model.dispose();
  });

  it('a time budget stops training on time and reports the steps it took', async () => {
    const model = await buildModel(TASK);
    const data = separable();
    const global = await getFlatWeights(model);
    // A simulated device: each mini-batch takes 10 ms of its clock (advanced as progress is reported).
    const clock = new FakeClock();
    const tick = (): void => clock.advance(10);
    const budget = { ...sgd(100, 16), timeBudgetMs: 105 };
    const result = await trainLocal(model, data, global, budget, TASK, tick, {}, { clock });
    // 10 steps take 100 ms; the 11th starts before 105 ms; the budget is then spent.
    expect(result.steps).toBe(11);
    expect(result.budgetHit).toBe(true);
    expect(result.epochs).toBe(3);
    expect(result.trainMs).toBe(110);
    expect(Object.keys(result.metrics).sort()).toEqual(['accuracy', 'loss']);
    // Up to E epochs: a budget that is not reached stops at the epochs.
    clock.t = 0;
    const roomy = await trainLocal(
      model,
      data,
      global,
      { ...sgd(2, 16), timeBudgetMs: 10_000 },
      TASK,
      tick,
      {},
      {
        clock,
      },
    );
    expect(roomy).toMatchObject({ steps: 8, epochs: 2, budgetHit: false });
    // At least one step, even when the budget is spent before the first.
    clock.t = 0;
    const slow = (): void => clock.advance(1000);
    const one = await trainLocal(
      model,
      data,
      global,
      { ...sgd(5, 16), timeBudgetMs: 100 },
      TASK,
      slow,
      {},
      {
        clock,
      },
    );
    expect(one.steps).toBe(1);
  });

  it('a CPU share pauses after each batch so training is busy at most that share of the time', async () => {
    const model = await buildModel(TASK);
    const data = separable();
    const global = await getFlatWeights(model);
    const clock = new FakeClock();
    // The task allows 0.5, the visitor lowered it to 0.25: 10 ms of work, then 30 ms of pause.
    const training = { ...sgd(1, 16), cpuShare: 0.5 };
    const result = await trainLocal(
      model,
      data,
      global,
      training,
      TASK,
      () => clock.advance(10),
      {},
      {
        clock,
        cpuShare: 0.25,
      },
    );
    expect(result.steps).toBe(4);
    expect(clock.slept).toBe(120);
    expect(result.trainMs).toBe(160);
  });

  it('FedProx (mu > 0) leaks nothing and stays nearer the global model', async () => {
    const model = await buildModel(TASK);
    const data = separable();
    const global = await getFlatWeights(model);
    // Full batches, so the shuffle cannot make the two runs differ by more than the proximal term.
    const training = sgd(8, 64);
    const plain = await trainLocal(model, data, global, training, TASK);
    await trainLocal(model, data, global, training, TASK, undefined, { proximalMu: 0.2 });
    const before = tf.memory().numTensors;
    const progress: number[] = [];
    const prox = await trainLocal(model, data, global, training, TASK, (p) => progress.push(p.batch), {
      proximalMu: 0.2,
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(prox.steps).toBe(8);
    expect(progress).toHaveLength(8);
    expect(prox.scaffold).toBeUndefined();
    expect(norm(prox.delta)).toBeLessThan(norm(plain.delta));
    await expect(
      trainLocal(model, data, global, training, TASK, undefined, { proximalMu: -1 }),
    ).rejects.toThrow(/mu/);
    model.dispose();
  });

  it('SCAFFOLD corrects each step by c - c_i and returns option II c_i+ and Delta c_i', async () => {
    const model = await buildModel(TASK);
    const data = separable(16);
    const global = await getFlatWeights(model);
    const d = global.length;
    // One full-batch step (K = 1): y = x - lr * (g(x) + c - c_i), whatever the shuffle.
    const training = sgd(1, 16);
    const zero = new Float32Array(d);
    const base = await trainLocal(model, data, global, training, TASK, undefined, {
      scaffold: { c: zero, ci: zero },
    });
    const c = Float32Array.from({ length: d }, (_, i) => (i % 3) - 1);
    const ci = new Float32Array(d).fill(0.25);
    const before = tf.memory().numTensors;
    const out = await trainLocal(model, data, global, training, TASK, undefined, { scaffold: { c, ci } });
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
      trainLocal(model, data, global, { ...training, optimizer: 'adam' }, TASK, undefined, {
        scaffold: { c, ci },
      }),
    ).rejects.toThrow(/plain SGD/);
    model.dispose();
  });

  it('trains a regression and a next-token model with their own losses', async () => {
    // tfjs' WASM backend has no gradient for embeddings (UnsortedSegmentSum): the CPU one does.
    await tf.setBackend('cpu');
    const regression: TrainTask & { model: { kind: 'mlp'; hidden: number[] } } = {
      model: { kind: 'mlp', hidden: [4] },
      input: { shape: [2], dtype: 'float32' },
      target: { kind: 'regression', shape: [1] },
      loss: 'meanSquaredError',
      metrics: ['mse', 'rmse'],
    };
    // y = x0 - 2 x1 on a grid.
    const n = 64;
    const x = Float32Array.from({ length: n * 2 }, (_, i) => ((i * 7) % 11) / 11 - 0.5);
    const y = Float32Array.from({ length: n }, (_, i) => x[2 * i]! - 2 * x[2 * i + 1]!);
    const model = await buildModel(regression);
    // Seeded start and shuffles: a random start can leave the four ReLU units nearly dead, and
    // then five more epochs need not lower the loss (it failed a CI run that way).
    const rng = seededRng(5);
    const global = (await getFlatWeights(model)).map(() => gaussian(rng) * 0.5);
    const first = await trainLocal(
      model,
      arraySource(regression, { count: n, x, y }, rng),
      global,
      sgd(1, 8),
      regression,
    );
    const later = await trainLocal(
      model,
      arraySource(regression, { count: n, x, y }, rng),
      global.map((w, i) => w + first.delta[i]!),
      sgd(5, 32, 0.2),
      regression,
    );
    expect(later.metrics.mse).toBeLessThan(first.metrics.mse!);
    expect(later.metrics.rmse).toBeCloseTo(Math.sqrt(later.metrics.mse!), 5);
    model.dispose();

    // Next-token prediction: the label at each position is the next token.
    const topology = tf.sequential({
      layers: [
        tf.layers.embedding({ inputDim: 5, outputDim: 4, inputLength: 3 }),
        tf.layers.dense({ units: 5, activation: 'softmax' }),
      ],
    });
    const sequence: TrainTask & { model: { topology: Record<string, unknown> } } = {
      model: { topology: topology.toJSON(null, false) as unknown as Record<string, unknown> },
      input: { shape: [3], dtype: 'int32' },
      target: { kind: 'sequence', vocabSize: 5 },
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['accuracy', 'perplexity'],
    };
    topology.dispose();
    const tokens = Int32Array.from({ length: 32 * 3 }, (_, i) => i % 5);
    const next = tokens.map((t) => (t + 1) % 5);
    const lm = await buildModel(sequence);
    const start = await getFlatWeights(lm);
    const out = await trainLocal(
      lm,
      arraySource(sequence, { count: 32, x: tokens, y: next }),
      start,
      sgd(40, 8),
      sequence,
    );
    expect(out.metrics.accuracy).toBeGreaterThan(0.9);
    expect(out.metrics.perplexity).toBeLessThan(2);
    expect(out.metrics.perplexity).toBeCloseTo(Math.exp(out.metrics.loss!), 3);
    lm.dispose();
    await initTf();
  });
});
