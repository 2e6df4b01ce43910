/// <reference lib="webworker" />
import type { Backend, ClientMetrics } from '@pollen/fl-core';
import {
  buildTrainingModel,
  frozenVariables,
  heldOutReport,
  type LocalResult,
  type LocalStrategyInput,
  type Progress,
  trainableOf,
  trainLocal,
  writeVector,
} from '@pollen/ml';
import { baseVector } from '@pollen/participation';
import * as tf from '@tensorflow/tfjs';
import { storedSplit } from '../sdk/examples.ts';
import { chooseBackend, fallBackFrom, isBackendFailure, watchGpuDevice } from './backends.ts';
import type { EvaluateRequest, TrainRequest, WorkerReply, WorkerRequest } from './messages.ts';
import { secAggSteps } from './secagg.ts';

declare const self: DedicatedWorkerGlobalScope;

let backend: Backend | null = null;
let model: tf.LayersModel | null = null;
let modelKey = '';
/** The checksum of the frozen base written into `model` (a fine-tuning task's), null before one is. */
let baseChecksum: string | null = null;

function post(reply: WorkerReply, transfer: Transferable[] = []): void {
  self.postMessage(reply, transfer);
}

/**
 * Reuse the model across rounds while the topology is the same, so nothing leaks per round; a
 * fine-tuning task's frozen base is written into it when its checksum changed.
 */
async function modelFor(req: TrainRequest | EvaluateRequest): Promise<tf.LayersModel> {
  const trainable = trainableOf(req.task);
  const key = JSON.stringify([req.task.model, req.task.input, req.task.target, trainable]);
  if (!model || key !== modelKey) {
    model?.dispose();
    model = await buildTrainingModel(req.task, trainable);
    modelKey = key;
    baseChecksum = null;
  }
  if (trainable.kind === 'all') return model;
  if (req.base && req.base.checksum !== baseChecksum) {
    const frame = new Uint8Array(req.base.frame);
    writeVector(frozenVariables(model, trainable), baseVector({ checksum: req.base.checksum, frame }));
    baseChecksum = req.base.checksum;
  }
  if (baseChecksum === null) throw new Error('a fine-tuning task needs its frozen base, and none came');
  return model;
}

/** What the upload reports: the loss and the task's metrics of the last epoch, and the time spent. */
function clientMetrics(result: LocalResult): ClientMetrics {
  return { metrics: result.metrics, trainMs: result.trainMs };
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
  const { train: local, heldOut } = await storedSplit(
    req.taskId,
    req.task,
    req.heldOutFraction,
    req.heldOutSplit,
  );
  const global = new Float32Array(req.weights);
  const trainable = trainableOf(req.task);
  const before = req.reportHeldOut ? await heldOutReport(m, heldOut, global, req.task, trainable) : null;
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
    req.task,
    onProgress,
    { ...strategyFor(req, global.length), trainable },
    { cpuShare: req.cpuShare },
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
      metrics: clientMetrics(result),
      steps: result.steps,
      numTensors: tf.memory().numTensors,
      numBytes: tf.memory().numBytes,
      clientControl: (result.scaffold?.ci.buffer as ArrayBuffer | undefined) ?? null,
      controlDelta: (result.scaffold?.deltaC.buffer as ArrayBuffer | undefined) ?? null,
      heldOut: before,
    },
    transfer,
  );
}

/** An evaluation round: the global model on the held-out examples, the same split training keeps apart. */
async function evaluate(req: EvaluateRequest): Promise<void> {
  const m = await modelFor(req);
  const { heldOut } = await storedSplit(req.taskId, req.task, req.heldOutFraction, req.heldOutSplit);
  const report = await heldOutReport(
    m,
    heldOut,
    new Float32Array(req.weights),
    req.task,
    trainableOf(req.task),
  );
  post({ type: 'evaluated', id: req.id, heldOut: report });
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
    } catch {
      // Their memory went with the device.
    }
    model = null;
    modelKey = '';
    baseChecksum = null;
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

/** Train or evaluate; if the backend itself failed, fall back once and do the same again. */
async function withFallback(run: () => Promise<void>): Promise<void> {
  await recovering;
  if (!backend) throw new Error('the worker was not initialised');
  const used = backend;
  try {
    await run();
  } catch (err) {
    if (!isBackendFailure(err, used)) throw err;
    if (backend === used) await recover(`training failed on ${used}: ${(err as Error).message}`);
    else await recovering;
    if (!backend) throw new Error(`${used} failed and no backend is left to fall back to`);
    await run();
  }
}

/** Secure aggregation's steps (secagg.ts). */
const secagg = secAggSteps(post);

self.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const req = event.data;
  // Secure aggregation's steps run between training's awaits, so key stages never wait on it.
  if (req.type === 'secagg') {
    secagg(req);
    return;
  }
  try {
    if (req.type === 'init') {
      const choice = await chooseBackend(req.preferred);
      select(choice.backend);
      post({ type: 'ready', backend: choice.backend, skipped: choice.skipped, recovery: false });
    } else if (req.type === 'train') {
      await withFallback(() => train(req));
    } else if (req.type === 'evaluate') {
      await withFallback(() => evaluate(req));
    }
  } catch (err) {
    fail(req.type === 'train' || req.type === 'evaluate' ? req.id : null)(err);
  }
};
