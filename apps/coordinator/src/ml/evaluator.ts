import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { encodeDense } from '@pollen/compression';
import { type MetricValues, PollenError, type TaskSpec, type WeightSpec } from '@pollen/fl-core';
import {
  arraySource,
  buildTrainingModel,
  checkModelFits,
  type ExampleSet,
  type ExportForm,
  evaluate,
  frozenVariables,
  getRoundVector,
  layoutOf,
  readVector,
  roundVariables,
  type SavedModel,
  setRoundVector,
  type Trainable,
  type TrainTask,
  trainableOf,
  trainedModel,
  weightSpecOf,
  withoutInitialWeights,
} from '@pollen/ml';
import type * as tf from '@tensorflow/tfjs';
import { mnistCacheDir } from '../data/mnist.ts';
import { evaluatorNice } from './evaluator-priority.ts';
import { DEFAULT_EVALUATION_SAMPLE, evaluationSample } from './held-out-sample.ts';
import { builtinHeldOut, type HeldOut, type HeldOutLookup, isBuiltinKey } from './held-out-source.ts';

/**
 * The parts of a spec the evaluator thread builds and scores by; a task that fine-tunes part of
 * its model keeps its initial weights (the frozen base) and says what it trains.
 */
export type EvaluatedTask = TrainTask &
  Pick<TaskSpec, 'model' | 'data' | 'presentation'> & { readonly trainable: Trainable };

/** A request to the evaluator thread. */
export interface EvaluateRequest {
  readonly id: number;
  /** Which model the thread builds and keeps for this topology. */
  readonly key: string;
  readonly task: EvaluatedTask;
  readonly weights: Float32Array;
  /** Which task's held-out set to use, by key; the set itself when the thread does not hold it yet. */
  readonly taskId: string;
  readonly heldOut: { readonly key: string; readonly set?: ExampleSet };
  /** Held-out examples scored at most: a fixed sample of a larger set (held-out-sample.ts); 0: all. */
  readonly sample: number;
}

/** The evaluator thread's answer. */
export type EvaluateReply =
  | { readonly id: number; readonly ok: true; readonly metrics: MetricValues | null }
  | { readonly id: number; readonly ok: false; readonly message: string };

/**
 * Held-out evaluation on a worker thread (node:worker_threads), shared by every task of the
 * process, so a hello or an update never waits behind an evaluation on the event loop. If the
 * thread cannot start or dies, evaluation falls back to the event loop.
 */
class EvaluatorThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, (reply: EvaluateReply) => void>();
  private nextId = 1;
  private failed: Error | null = null;
  /** The held-out key each task's set was last sent with: the thread keeps the last one per task. */
  private readonly sent = new Map<string, string>();
  /** Models the thread was asked to build: it keeps each, so their initial weights go over once. */
  private readonly built = new Set<string>();

  constructor() {
    this.worker = new Worker(new URL('./evaluate-worker.mjs', import.meta.url), {
      workerData: { cacheDir: mnistCacheDir() ?? null, nice: evaluatorNice() },
    });
    this.worker.on('message', (reply: EvaluateReply) => {
      this.pending.get(reply.id)?.(reply);
      this.pending.delete(reply.id);
    });
    const fail = (err: Error): void => {
      this.failed ??= err;
      for (const [id, resolve] of this.pending) resolve({ id, ok: false, message: err.message });
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the evaluator thread exited with ${code}`)));
    // An idle evaluator does not keep the process alive.
    this.worker.unref();
  }

  get broken(): boolean {
    return this.failed !== null;
  }

  evaluate(spec: TaskSpec, weights: Float32Array, heldOut: HeldOut, sample: number): Promise<EvaluateReply> {
    const id = this.nextId++;
    // Requests are served in order, so a set sent once is there for every later request.
    const send = !isBuiltinKey(heldOut.key) && this.sent.get(spec.id) !== heldOut.key;
    this.sent.set(spec.id, heldOut.key);
    const key = modelKey(spec);
    const task = taskOf(spec);
    // A fine-tuning task's frozen base is in its initial weights: the thread needs them only to
    // build its model, which it keeps by key. (Every other model's weights all come with `weights`.)
    const build = !this.built.has(key);
    this.built.add(key);
    const request: EvaluateRequest = {
      id,
      key,
      task:
        build && task.trainable.kind !== 'all' ? task : { ...task, model: withoutInitialWeights(task.model) },
      // A copy goes over, so the caller keeps its weights.
      weights: weights.slice(),
      taskId: spec.id,
      heldOut: send ? { key: heldOut.key, set: heldOut.examples() } : { key: heldOut.key },
      sample,
    };
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.worker.ref();
      this.worker.postMessage(request, [request.weights.buffer as ArrayBuffer]);
    }).finally(() => {
      if (this.pending.size === 0) this.worker.unref();
    }) as Promise<EvaluateReply>;
  }
}

/** Which model the evaluator thread builds for a spec, and keeps for every spec of the same key. */
function modelKey(spec: TaskSpec): string {
  const trainable = trainableOf(spec.training);
  // A fine-tuning task's model holds its own frozen base: one model per task.
  if (trainable.kind !== 'all') return JSON.stringify(['task', spec.id, trainable]);
  // A shorthand (mlp, cnn) builds a different model for another input or target; initial
  // weights do not change what is built (every weight is set from the version's vector).
  return JSON.stringify([withoutInitialWeights(spec.model), spec.input, spec.target]);
}

function taskOf(spec: TaskSpec): EvaluatedTask {
  const { model, input, target, loss, metrics, data, presentation } = spec;
  return {
    model,
    input,
    target,
    loss,
    metrics,
    trainable: trainableOf(spec.training),
    ...(data ? { data } : {}),
    ...(presentation ? { presentation } : {}),
  };
}

/**
 * The process's evaluator thread, started on first use and kept: starting one costs a tfjs
 * start and a read of the held-out digits, and an idle one holds nothing open (unref'd).
 */
let thread: EvaluatorThread | null = null;

function evaluatorThread(): EvaluatorThread {
  if (!thread || thread.broken) thread = new EvaluatorThread();
  return thread;
}

/** A fine-tuning task's frozen base as served (`GET /api/tasks/:id/base`): a dense f32 frame. */
export interface FrozenBase {
  readonly frame: Uint8Array;
  /** SHA-256 of the frame, lower-case hex. */
  readonly checksum: string;
}

/**
 * A task's model on the coordinator: built once from the topology (with a fine-tuning task's
 * frozen base, from its initial weights, made trainable as `training.trainable` says), used to
 * make the initial weights; every new global model is evaluated on the held-out split in the
 * evaluator thread. Its weight vectors are the round's (docs/design.md, "Fine-tuning").
 */
export class TaskModel {
  private readonly thread: EvaluatorThread;
  private disposed = false;
  private base: FrozenBase | null | undefined;
  /** Uses of the model that write weights into it, one at a time. */
  private using: Promise<unknown> = Promise.resolve();
  private exported: {
    readonly version: number;
    readonly form: ExportForm;
    readonly saved: Promise<SavedModel>;
  } | null = null;

  private constructor(
    private readonly spec: TaskSpec,
    readonly model: tf.LayersModel,
    readonly trainable: Trainable,
    private readonly heldOut: () => Promise<HeldOut | null>,
    private readonly sample: number,
  ) {
    this.thread = evaluatorThread();
  }

  /**
   * Build a task's model and check it fits the task. Held-out examples come from `heldOut`
   * (the engine's store-backed source); by default, the task's built-in data only.
   * `options.sample`: held-out examples scored at most per version (0: all; default 2,000).
   */
  static async create(
    spec: TaskSpec,
    heldOut: HeldOutLookup = async (s) => builtinHeldOut(s),
    options: { readonly sample?: number } = {},
  ): Promise<TaskModel> {
    const trainable = trainableOf(spec.training);
    if (trainable.kind !== 'all' && !('topology' in spec.model && spec.model.weights)) {
      throw new PollenError(
        'INVALID_TASK',
        `"training.trainable" (${trainable.kind}) fine-tunes a pretrained model: "model" needs its initial weights`,
      );
    }
    const model = await buildTrainingModel(spec, trainable);
    try {
      checkModelFits(model, spec);
    } catch (err) {
      model.dispose();
      throw err;
    }
    // The thread builds its own copy and loads each version's weights; from the topology only,
    // unless the task fine-tunes: then the initial weights hold its frozen base.
    const evaluated = trainable.kind === 'all' ? { ...spec, model: withoutInitialWeights(spec.model) } : spec;
    return new TaskModel(
      evaluated,
      model,
      trainable,
      () => heldOut(evaluated),
      options.sample ?? DEFAULT_EVALUATION_SAMPLE,
    );
  }

  /** Whether evaluations run on the evaluator thread (false once it failed: then on this one). */
  get offThread(): boolean {
    return !this.thread.broken;
  }

  /** The layout of the round's vector: every weight, or only the trainable ones of a fine-tuning task. */
  layout(): WeightSpec {
    return this.trainable.kind === 'all'
      ? weightSpecOf(this.model)
      : layoutOf(roundVariables(this.model, this.trainable));
  }

  /** The round vector of the freshly built model: version 0. */
  initialWeights(): Promise<Float32Array> {
    return getRoundVector(this.model, this.trainable);
  }

  /** The frozen base of a fine-tuning task (null when the task trains every weight); computed once. */
  async frozenBase(): Promise<FrozenBase | null> {
    if (this.base !== undefined) return this.base;
    if (this.trainable.kind === 'all') {
      this.base = null;
      return null;
    }
    const vector = await readVector(frozenVariables(this.model, this.trainable));
    const frame = encodeDense(vector, 'f32');
    this.base = { frame, checksum: createHash('sha256').update(frame).digest('hex') };
    return this.base;
  }

  /**
   * A version of a fine-tuning task as a plain tfjs model: its round vector over the frozen
   * base, LoRA's adapters merged. The last version asked is kept (model.json, then weights.bin).
   */
  exportVersion(version: number, weights: Float32Array, form: ExportForm = 'merged'): Promise<SavedModel> {
    if (this.exported?.version !== version || this.exported.form !== form) {
      const saved = this.exclusive(() => trainedModel(this.model, this.trainable, weights, form));
      this.exported = { version, form, saved };
      saved.catch(() => {
        if (this.exported?.saved === saved) this.exported = null;
      });
    }
    return this.exported.saved;
  }

  /**
   * The task's loss and metrics of a weight vector on the held-out data, computed off the
   * event loop; null when the task has no held-out data.
   */
  async evaluate(weights: Float32Array): Promise<MetricValues | null> {
    const heldOut = await this.heldOut();
    if (!heldOut) return null;
    if (!this.thread.broken) {
      const reply = await this.thread.evaluate(this.spec, weights, heldOut, this.sample);
      if (reply.ok) return reply.metrics;
      if (!this.thread.broken) throw new Error(`held-out evaluation failed: ${reply.message}`);
    }
    return this.evaluateHere(weights);
  }

  /** The same evaluation on this thread: the fallback, and the reference the tests compare with. */
  async evaluateHere(weights: Float32Array): Promise<MetricValues | null> {
    const heldOut = await this.heldOut();
    if (!heldOut) return null;
    return this.exclusive(() => {
      setRoundVector(this.model, this.trainable, weights);
      return evaluate(
        this.model,
        arraySource(this.spec, evaluationSample(heldOut.examples(), this.sample)),
        this.spec,
      );
    });
  }

  /** Run `use` once every earlier use of the model is done: each writes weights into it. */
  private exclusive<T>(use: () => Promise<T>): Promise<T> {
    const run = this.using.then(use, use);
    this.using = run.catch(() => undefined);
    return run;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }
}
