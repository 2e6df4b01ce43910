/// <reference lib="webworker" />
import type { Backend } from '@pollen/fl-core';
import * as tf from '@tensorflow/tfjs';
import { loadExamples } from '../sdk/storage.ts';
import { chooseBackend, fallBackFrom, isBackendFailure, watchGpuDevice } from './backends.ts';
import type { TrainRequest, WorkerReply, WorkerRequest } from './messages.ts';
import { handleSecAgg } from './secagg.ts';
import {
  buildModel,
  type LocalData,
  type LocalStrategyInput,
  type Progress,
  toTensors,
  trainLocal,
} from './train.ts';

declare const self: DedicatedWorkerGlobalScope;

let backend: Backend | null = null;
let model: tf.LayersModel | null = null;
let modelKey = '';
let data: (LocalData & { key: string }) | null = null;

function post(reply: WorkerReply, transfer: Transferable[] = []): void {
  self.postMessage(reply, transfer);
}

/** Reuse the model across rounds while the topology is the same, so nothing leaks per round. */
async function modelFor(req: TrainRequest): Promise<tf.LayersModel> {
  const key = JSON.stringify(req.modelTopology);
  if (model && key === modelKey) return model;
  model?.dispose();
  model = await buildModel(req.modelTopology);
  modelKey = key;
  return model;
}

/** This device's examples as tensors, cached until the stored examples change. */
async function dataFor(req: TrainRequest): Promise<LocalData> {
  const examples = await loadExamples(req.taskId);
  if (examples.length === 0) throw new Error('no local examples to train on');
  const key = `${req.taskId}:${examples.length}:${examples[examples.length - 1]!.addedAt}`;
  if (data?.key === key) return data;
  if (data) tf.dispose([data.xs, data.ys]);
  const features = req.inputShape.reduce((a, b) => a * b, 1);
  const pixels = new Uint8Array(examples.length * features);
  examples.forEach((e, i) => {
    pixels.set(e.x.subarray(0, features), i * features);
  });
  const labels = examples.map((e) => e.y);
  data = { key, ...toTensors(pixels, labels, req.inputShape, req.numClasses) };
  return data;
}

/** FedProx's mu and SCAFFOLD's c and c_i for `trainLocal`, from the request. */
function strategyFor(req: TrainRequest, dimension: number): LocalStrategyInput {
  const { proximalMu, scaffold } = req.strategy;
  if (!scaffold) return { proximalMu };
  if (!req.control) throw new Error('the round uses SCAFFOLD but sent no control variate');
  const c = new Float32Array(req.control);
  // No stored c_i (first round, or storage cleared): start from zeros, as Algorithm 1 does.
  const ci = req.clientControl ? new Float32Array(req.clientControl) : new Float32Array(dimension);
  if (c.length !== dimension || ci.length !== dimension) {
    throw new Error(`control variates of ${c.length} and ${ci.length} values for a model of ${dimension}`);
  }
  return { proximalMu, scaffold: { c, ci } };
}

async function train(req: TrainRequest): Promise<void> {
  const m = await modelFor(req);
  const local = await dataFor(req);
  const global = new Float32Array(req.weights);
  let lastPost = 0;
  const onProgress = (p: Progress): void => {
    const now = performance.now();
    if (now - lastPost < 100 && !(p.batch === p.batches && p.epoch === p.epochs - 1)) return;
    lastPost = now;
    post({ type: 'progress', id: req.id, ...p });
  };
  const result = await trainLocal(
    m,
    local,
    global,
    req.training,
    onProgress,
    strategyFor(req, global.length),
  );
  const transfer = [result.delta.buffer as ArrayBuffer];
  if (result.scaffold) {
    transfer.push(result.scaffold.ci.buffer as ArrayBuffer, result.scaffold.deltaC.buffer as ArrayBuffer);
  }
  post(
    {
      type: 'result',
      id: req.id,
      delta: result.delta.buffer as ArrayBuffer,
      numExamples: result.numExamples,
      metrics: result.metrics,
      numTensors: tf.memory().numTensors,
      numBytes: tf.memory().numBytes,
      clientControl: (result.scaffold?.ci.buffer as ArrayBuffer | undefined) ?? null,
      controlDelta: (result.scaffold?.deltaC.buffer as ArrayBuffer | undefined) ?? null,
    },
    transfer,
  );
}

let recovering: Promise<void> | null = null;

/**
 * The backend broke (a lost GPU device, a training error that names it): forget what lived on
 * it, take the next backend down the chain and tell the page, which rejoins the coordinator
 * with it. Concurrent failures share one recovery.
 */
function recover(reason: string): Promise<void> {
  recovering ??= (async () => {
    const lost = backend!;
    backend = null;
    try {
      model?.dispose();
      if (data) tf.dispose([data.xs, data.ys]);
    } catch {
      // Their memory went with the device.
    }
    model = null;
    modelKey = '';
    data = null;
    // Forget the bookkeeping of every tensor that lived on the lost backend, so tf.memory()
    // counts only live ones; the other backends start afresh when chosen.
    try {
      tf.engine().reset();
    } catch {
      // Disposing a backend whose device is gone may throw; its state is dropped all the same.
    }
    const choice = await fallBackFrom(lost, reason);
    select(choice.backend);
    post({ type: 'ready', backend: choice.backend, skipped: choice.skipped, recovery: true });
  })().finally(() => {
    recovering = null;
  });
  return recovering;
}

/** Use a backend, and watch its GPU device when it has one. */
function select(chosen: Backend): void {
  backend = chosen;
  if (chosen === 'webgpu') {
    watchGpuDevice((reason) => {
      if (backend === 'webgpu') void recover(reason).catch(fail(null));
    });
  }
}

const fail =
  (id: number | null) =>
  (err: unknown): void => {
    post({ type: 'error', id, message: (err as Error).message || String(err) });
  };

/** Train; if the backend itself failed, fall back once and train the same round again. */
async function trainWithFallback(req: TrainRequest): Promise<void> {
  await recovering;
  if (!backend) throw new Error('the worker was not initialised');
  const used = backend;
  try {
    await train(req);
  } catch (err) {
    if (!isBackendFailure(err, used)) throw err;
    if (backend === used) await recover(`training failed on ${used}: ${(err as Error).message}`);
    else await recovering;
    if (!backend) throw new Error(`${used} failed and no backend is left to fall back to`);
    await train(req);
  }
}

self.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const req = event.data;
  // Secure aggregation's steps run between training's awaits, so key stages never wait on it.
  if (req.type === 'secagg') {
    handleSecAgg(req, post);
    return;
  }
  try {
    if (req.type === 'init') {
      const choice = await chooseBackend(req.preferred);
      select(choice.backend);
      post({ type: 'ready', backend: choice.backend, skipped: choice.skipped, recovery: false });
    } else if (req.type === 'train') {
      await trainWithFallback(req);
    }
  } catch (err) {
    fail(req.type === 'train' ? req.id : null)(err);
  }
};
