import { Worker } from 'node:worker_threads';
import type { MetricValues, TaskSpec } from '@pollen/fl-core';
import {
  arraySource,
  buildModel,
  checkModelFits,
  type ExampleSet,
  evaluate,
  getFlatWeights,
  setFlatWeights,
  type TrainTask,
  withoutInitialWeights,
} from '@pollen/ml';
import type * as tf from '@tensorflow/tfjs';
import { mnistCacheDir } from '../data/mnist.ts';
import { evaluatorNice } from './evaluator-priority.ts';
import { DEFAULT_EVALUATION_SAMPLE, evaluationSample } from './held-out-sample.ts';
import { builtinHeldOut, type HeldOut, type HeldOutLookup, isBuiltinKey } from './held-out-source.ts';

/** The parts of a spec the evaluator thread builds and scores by. */
export type EvaluatedTask = TrainTask & Pick<TaskSpec, 'model' | 'data' | 'presentation'>;

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
    const request: EvaluateRequest = {
      id,
      // A shorthand (mlp, cnn) builds a different model for another input or target.
      key: JSON.stringify([spec.model, spec.input, spec.target]),
      task: taskOf(spec),
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

function taskOf(spec: TaskSpec): EvaluatedTask {
  const { model, input, target, loss, metrics, data, presentation } = spec;
  return {
    model,
    input,
    target,
    loss,
    metrics,
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

/**
 * A task's model on the coordinator: built once from the topology, used to make the initial
 * weights; every new global model is evaluated on the held-out split in the evaluator thread.
 */
export class TaskModel {
  private readonly thread: EvaluatorThread;
  private disposed = false;

  private constructor(
    private readonly spec: TaskSpec,
    readonly model: tf.LayersModel,
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
    const model = await buildModel(spec);
    try {
      checkModelFits(model, spec);
    } catch (err) {
      model.dispose();
      throw err;
    }
    // The thread builds its own copy from the topology and loads each version's weights.
    const evaluated = { ...spec, model: withoutInitialWeights(spec.model) };
    return new TaskModel(
      evaluated,
      model,
      () => heldOut(evaluated),
      options.sample ?? DEFAULT_EVALUATION_SAMPLE,
    );
  }

  /** Whether evaluations run on the evaluator thread (false once it failed: then on this one). */
  get offThread(): boolean {
    return !this.thread.broken;
  }

  /** The freshly initialised weights of the topology. */
  initialWeights(): Promise<Float32Array> {
    return getFlatWeights(this.model);
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
    setFlatWeights(this.model, weights);
    return evaluate(
      this.model,
      arraySource(this.spec, evaluationSample(heldOut.examples(), this.sample)),
      this.spec,
    );
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }
}
