import { parentPort, workerData } from 'node:worker_threads';
import type * as tf from '@tensorflow/tfjs';
import { loadMnist, useMnistCache } from '../data/mnist.ts';
import type { EvaluateReply, EvaluateRequest } from './evaluator.ts';
import { buildModel, evaluate, initTf, writeWeights } from './tf.ts';

/**
 * The held-out evaluator's thread: its own tfjs (WASM backend), one model per topology, the
 * held-out digits loaded once. Requests are served one at a time, in order.
 */
const port = parentPort!;
const { cacheDir } = workerData as { cacheDir: string | null };
if (cacheDir) useMnistCache(cacheDir);
const ready = initTf();
const models = new Map<string, Promise<tf.LayersModel>>();
let queue: Promise<void> = Promise.resolve();

async function handle(req: EvaluateRequest): Promise<EvaluateReply> {
  try {
    await ready;
    let model = models.get(req.key);
    if (!model) {
      model = buildModel(req.topology);
      models.set(req.key, model);
    }
    const m = await model;
    writeWeights(m, req.weights);
    const { accuracy, loss } = await evaluate(m, loadMnist().test, req.inputShape, req.numClasses);
    return { id: req.id, ok: true, accuracy, loss };
  } catch (err) {
    return { id: req.id, ok: false, message: (err as Error).message };
  }
}

port.on('message', (req: EvaluateRequest) => {
  queue = queue.then(async () => port.postMessage(await handle(req)));
});
