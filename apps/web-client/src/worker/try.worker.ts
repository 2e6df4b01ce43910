/// <reference lib="webworker" />
import type { Backend } from '@pollen/fl-core';
import { buildModel, inputTensor, setFlatWeights } from '@pollen/ml';
import * as tf from '@tensorflow/tfjs';
import { chooseBackend } from './backends.ts';
import type { TryLoadRequest, TryReply, TryRequest } from './try-messages.ts';

declare const self: DedicatedWorkerGlobalScope;

/**
 * Tries the task's global model on the visitor's own input, off the page's thread: loads the
 * weights the page fetched, predicts one example at a time. It holds one model, rebuilt only
 * when the task's topology changes, and only ever sends its predictions back to the page.
 */
let backend: Promise<Backend> | null = null;
let model: tf.LayersModel | null = null;
let modelKey = '';
let task: TryLoadRequest['task'] | null = null;
let version = -1;

function post(reply: TryReply): void {
  self.postMessage(reply, reply.type === 'prediction' ? [reply.probs.buffer as ArrayBuffer] : []);
}

async function load(req: TryLoadRequest): Promise<void> {
  backend ??= chooseBackend(req.preferred).then((c) => c.backend);
  const chosen = await backend;
  const key = JSON.stringify([req.task.model, req.task.input, req.task.target]);
  if (!model || key !== modelKey) {
    model?.dispose();
    model = await buildModel(req.task);
    modelKey = key;
  }
  setFlatWeights(model, new Float32Array(req.weights));
  task = req.task;
  version = req.version;
  post({ type: 'loaded', version, backend: chosen });
}

async function predict(id: number, x: ArrayLike<number>): Promise<void> {
  if (!model || !task) throw new Error('no model loaded yet');
  const used = version;
  const out = tf.tidy(() => {
    const y = model!.predict(inputTensor(Float32Array.from(x), 1, task!.input)) as tf.Tensor;
    // A sequence model predicts every position: the next character follows the last one.
    return y.rank === 3 ? y.slice([0, y.shape[1]! - 1, 0], [1, 1, -1]).reshape([-1]) : y.reshape([-1]);
  });
  const probs = (await out.data()) as Float32Array;
  out.dispose();
  post({ type: 'prediction', id, version: used, probs: probs.slice() });
}

/** One request at a time, in order: a prediction never sees a model half rebuilt. */
let queue: Promise<void> = Promise.resolve();

self.onmessage = (event: MessageEvent<TryRequest>) => {
  const req = event.data;
  queue = queue
    .then(() => (req.type === 'load' ? load(req) : predict(req.id, req.x)))
    .catch((err: unknown) => {
      post({ type: 'error', id: req.type === 'predict' ? req.id : null, message: (err as Error).message });
    });
};
