import { decodeExamples } from '@pollen/compression';
import type { Backend } from '@pollen/fl-core';
import { arraySource, buildModel, getFlatWeights, inputTensor, type TrainTask, trainLocal } from '@pollen/ml';
import { chooseBackend } from '@pollen/web-client/backends';
import * as tf from '@tensorflow/tfjs';

/**
 * The page the browser-throughput benchmark opens: the contributor's own backend choice
 * (backends.ts) and training step (@pollen/ml's trainLocal), timed against plain `model.fit` on the same
 * model, data and backend in the same tab.
 */

export interface ThroughputRequest {
  readonly backend: Backend;
  readonly examples: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly hidden: number;
  readonly runs: number;
}

export interface ThroughputResult {
  readonly backend: string;
  readonly skipped: string;
  /** Samples per second of each run: trainLocal (Pollen's step) and plain model.fit. */
  readonly pollen: number[];
  readonly plain: number[];
}

function digitsTask(hidden: number): TrainTask & { model: { kind: 'mlp'; hidden: number[] } } {
  return {
    model: { kind: 'mlp', hidden: [hidden] },
    input: { shape: [784], dtype: 'uint8', scale: 1 / 255 },
    target: { kind: 'class', numClasses: 10 },
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
  };
}

async function measure(req: ThroughputRequest): Promise<ThroughputResult> {
  const choice = await chooseBackend(req.backend);
  const skipped = choice.skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ');
  if (choice.backend !== req.backend) return { backend: choice.backend, skipped, pollen: [], plain: [] };
  const batch = decodeExamples(new Uint8Array(await (await fetch('./mnist.bin')).arrayBuffer()));
  const count = Math.min(req.examples, batch.count);
  const task = digitsTask(req.hidden);
  const pixels = batch.pixels.subarray(0, count * 784);
  const labels = Int32Array.from(batch.labels.subarray(0, count));
  const source = arraySource(task, { count, x: pixels, y: labels });
  const data = {
    xs: inputTensor(pixels, count, task.input),
    ys: tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), 10).toFloat()),
  };
  const pollenModel = await buildModel(task);
  const plainModel = await buildModel(task);
  const global = await getFlatWeights(pollenModel);
  const training = {
    epochs: req.epochs,
    batchSize: req.batchSize,
    learningRate: 0.1,
    optimizer: 'sgd' as const,
  };
  plainModel.compile({
    optimizer: tf.train.sgd(0.1),
    loss: 'categoricalCrossentropy',
    metrics: ['accuracy'],
  });

  const pollenRun = async (): Promise<number> => {
    const start = performance.now();
    await trainLocal(pollenModel, source, global, training, task);
    return performance.now() - start;
  };
  const plainRun = async (): Promise<number> => {
    const start = performance.now();
    const history = await plainModel.fit(data.xs, data.ys, {
      epochs: req.epochs,
      batchSize: req.batchSize,
      shuffle: true,
      verbose: 0,
    });
    // The loss is read back, so the backend's queue has run (WebGPU and WebGL are asynchronous).
    if (!Number.isFinite(Number(history.history.loss?.at(-1)))) throw new Error('training diverged');
    await (plainModel.getWeights()[0]!.data() as Promise<Float32Array>);
    return performance.now() - start;
  };
  // Warm-up: kernels compile and shaders build on the first steps; not timed.
  await pollenRun();
  await plainRun();
  const samples = count * req.epochs;
  const pollen: number[] = [];
  const plain: number[] = [];
  for (let r = 0; r < req.runs; r++) {
    pollen.push((samples * 1000) / (await pollenRun()));
    plain.push((samples * 1000) / (await plainRun()));
  }
  pollenModel.dispose();
  plainModel.dispose();
  tf.dispose([data.xs, data.ys]);
  return { backend: choice.backend, skipped, pollen, plain };
}

(window as unknown as { pollenThroughput: typeof measure }).pollenThroughput = measure;
document.getElementById('status')!.textContent = 'ready';
document.body.dataset.ready = 'true';
