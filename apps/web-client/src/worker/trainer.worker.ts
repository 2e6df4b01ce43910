/// <reference lib="webworker" />

import type { Backend } from '@pollen/fl-core';
import * as tf from '@tensorflow/tfjs';
import { loadExamples } from '../sdk/storage.ts';
import { chooseBackend } from './backends.ts';
import type { TrainRequest, WorkerReply, WorkerRequest } from './messages.ts';

declare const self: DedicatedWorkerGlobalScope;

let backend: Backend | null = null;
let model: tf.LayersModel | null = null;
let modelKey = '';
let data: { key: string; xs: tf.Tensor; ys: tf.Tensor; count: number } | null = null;

function post(reply: WorkerReply, transfer: Transferable[] = []): void {
  self.postMessage(reply, transfer);
}

/** Reuse the model across rounds while the topology is the same: building one leaks nothing. */
async function modelFor(req: TrainRequest): Promise<tf.LayersModel> {
  const key = JSON.stringify(req.modelTopology);
  if (model && key === modelKey) return model;
  model?.dispose();
  model = await tf.models.modelFromJSON({ modelTopology: req.modelTopology } as never);
  modelKey = key;
  return model;
}

/** This device's examples as tensors, cached until the stored examples change. */
async function dataFor(req: TrainRequest): Promise<{ xs: tf.Tensor; ys: tf.Tensor; count: number }> {
  const examples = await loadExamples(req.taskId);
  if (examples.length === 0) throw new Error('no local examples to train on');
  const key = `${req.taskId}:${examples.length}:${examples[examples.length - 1]!.addedAt}`;
  if (data?.key === key) return data;
  if (data) tf.dispose([data.xs, data.ys]);
  const features = req.inputShape.reduce((a, b) => a * b, 1);
  const pixels = new Float32Array(examples.length * features);
  const labels = new Int32Array(examples.length);
  examples.forEach((e, i) => {
    for (let j = 0; j < features; j++) pixels[i * features + j] = e.x[j]! / 255;
    labels[i] = e.y;
  });
  const xs = tf.tensor(pixels, [examples.length, ...req.inputShape]);
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), req.numClasses).toFloat());
  data = { key, xs, ys, count: examples.length };
  return data;
}

async function train(req: TrainRequest): Promise<void> {
  const started = performance.now();
  const m = await modelFor(req);
  const { xs, ys, count } = await dataFor(req);
  const global = new Float32Array(req.weights);

  // Load the global weights in spec order.
  let offset = 0;
  const tensors = m.weights.map((w) => {
    const size = w.shape.reduce<number>((a, b) => a * (b ?? 1), 1);
    const t = tf.tensor(global.subarray(offset, offset + size), w.shape as number[]);
    offset += size;
    return t;
  });
  if (offset !== global.length)
    throw new Error(`model has ${offset} weights, the round sent ${global.length}`);
  m.setWeights(tensors);
  tf.dispose(tensors);

  const { epochs, batchSize, learningRate, optimizer } = req.training;
  const opt = optimizer === 'adam' ? tf.train.adam(learningRate) : tf.train.sgd(learningRate);
  m.compile({ optimizer: opt, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const batches = Math.ceil(count / batchSize);
  let epoch = 0;
  let lastPost = 0;
  const history = await m.fit(xs, ys, {
    epochs,
    batchSize,
    shuffle: true,
    verbose: 0,
    callbacks: {
      onEpochBegin: async (e) => {
        epoch = e;
      },
      onBatchEnd: async (batch, logs) => {
        const now = performance.now();
        if (now - lastPost < 100 && batch !== batches - 1) return;
        lastPost = now;
        post({
          type: 'progress',
          id: req.id,
          epoch,
          epochs,
          batch: batch + 1,
          batches,
          loss: logs?.loss ?? 0,
        });
      },
    },
  });

  const local = await Promise.all(m.getWeights().map((w) => w.data() as Promise<Float32Array>));
  const delta = new Float32Array(global.length);
  offset = 0;
  for (const values of local) {
    for (let i = 0; i < values.length; i++) delta[offset + i] = values[i]! - global[offset + i]!;
    offset += values.length;
  }
  opt.dispose();
  const last = (name: string): number => {
    const series = history.history[name];
    const value = Number(series?.[series.length - 1] ?? 0);
    return Number.isFinite(value) ? value : 0;
  };
  post(
    {
      type: 'result',
      id: req.id,
      delta: delta.buffer,
      numExamples: count,
      metrics: {
        loss: last('loss'),
        accuracy: Math.min(1, Math.max(0, last('acc') || last('accuracy'))),
        trainMs: performance.now() - started,
      },
      numTensors: tf.memory().numTensors,
    },
    [delta.buffer],
  );
}

self.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const req = event.data;
  try {
    if (req.type === 'init') {
      const choice = await chooseBackend(req.preferred);
      backend = choice.backend;
      post({ type: 'ready', backend, skipped: choice.skipped });
    } else if (req.type === 'train') {
      if (!backend) throw new Error('the worker was not initialised');
      await train(req);
    }
  } catch (err) {
    post({
      type: 'error',
      id: req.type === 'train' ? req.id : null,
      message: (err as Error).message || String(err),
    });
  }
};
