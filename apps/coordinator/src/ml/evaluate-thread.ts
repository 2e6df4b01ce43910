import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import {
  arraySource,
  buildTrainingModel,
  type ExampleSet,
  evaluate,
  initTf,
  setRoundVector,
} from '@pollen/ml';
import type * as tf from '@tensorflow/tfjs';
import { useMnistCache } from '../data/mnist.ts';
import type { EvaluateReply, EvaluateRequest } from './evaluator.ts';
import { heldOutFor } from './held-out.ts';
import { evaluationSample } from './held-out-sample.ts';
import { isBuiltinKey } from './held-out-source.ts';

/**
 * The held-out evaluator's thread: its own tfjs (WASM backend), one model per topology, the
 * held-out data loaded once. Requests are served one at a time, in order.
 */
const port = parentPort!;
const { cacheDir, nice } = workerData as { cacheDir: string | null; nice: number };
// Evaluation is background work (docs/design.md, "Evaluation off the commit path"): on Linux a
// thread has its own nice value (setpriority(2), NOTES), so this one yields the CPU to intake
// and commits on a busy machine (--evaluator-nice). Elsewhere the call would renice the whole
// process: skipped.
if (process.platform === 'linux' && nice > 0) {
  try {
    setPriority(nice);
  } catch {
    // Not permitted (a sandbox): evaluate at the process's priority.
  }
}
if (cacheDir) useMnistCache(cacheDir);
const ready = initTf();
const models = new Map<string, Promise<tf.LayersModel>>();
let queue: Promise<void> = Promise.resolve();
/** Each task's uploaded held-out set, as last sent, by its key. */
const uploaded = new Map<string, { readonly key: string; readonly set: ExampleSet }>();

function heldOutOf(req: EvaluateRequest): ExampleSet | null {
  const { key, set } = req.heldOut;
  if (isBuiltinKey(key)) return heldOutFor(req.task);
  if (set) uploaded.set(req.taskId, { key, set });
  const kept = uploaded.get(req.taskId);
  if (kept?.key !== key) throw new Error(`held-out set ${key} was never sent to the evaluator thread`);
  return kept.set;
}

async function handle(req: EvaluateRequest): Promise<EvaluateReply> {
  try {
    await ready;
    let model = models.get(req.key);
    if (!model) {
      model = buildTrainingModel(req.task, req.task.trainable);
      models.set(req.key, model);
    }
    const data = heldOutOf(req);
    if (!data) return { id: req.id, ok: true, metrics: null };
    const m = await model;
    setRoundVector(m, req.task.trainable, req.weights);
    const metrics = await evaluate(m, arraySource(req.task, evaluationSample(data, req.sample)), req.task);
    return { id: req.id, ok: true, metrics };
  } catch (err) {
    return { id: req.id, ok: false, message: (err as Error).message };
  }
}

port.on('message', (req: EvaluateRequest) => {
  queue = queue.then(async () => port.postMessage(await handle(req)));
});
