import type { Backend } from '@pollen/fl-core';
import { WorkerCalls } from '../worker/calls.ts';
import type { TrainTask } from '../worker/messages.ts';
import type { TryReply, TryRequest } from '../worker/try-messages.ts';
import { checkGlobalModel } from './global-model.ts';

/** How often the page asks whether a new version committed (a 304 costs a few bytes). */
const POLL_MS = 3000;

export interface Prediction {
  /** The model's output: class probabilities. */
  readonly probs: Float32Array;
  /** The global model version that made it. */
  readonly version: number;
}

/**
 * The current global model, run in a worker of its own on the visitor's input (docs/tasks.md,
 * "Try the model"): fetched from GET /api/tasks/:id/global, and again whenever a new version
 * commits (polled with If-None-Match while the tab is visible, or at once when told).
 * Predictions stay in the tab. The worker (a second tfjs beside the training worker) starts
 * only when the visitor first tries the model, so a tab that only contributes never pays for it.
 */
export class TryModel {
  private worker: Worker | null = null;
  private enabled = false;
  private readonly predictions = new WorkerCalls<Prediction | null>();
  private etag = '';
  private timer: ReturnType<typeof setInterval> | null = null;
  private fetching: Promise<void> | null = null;
  private readonly listeners: ((version: number) => void)[] = [];
  /** The version the worker holds, or null before the first loaded. */
  version: number | null = null;

  constructor(
    private readonly taskId: string,
    private readonly task: TrainTask,
    /** How many weights the task's model has (its weight spec's size): what the coordinator must send. */
    private readonly weightCount: number,
    private readonly preferred: Backend | null,
    private readonly onError: (message: string) => void,
  ) {}

  /** Call `listener` with each version the worker loads (to predict again with it). */
  onVersion(listener: (version: number) => void): void {
    this.listeners.push(listener);
  }

  /** The page offers trying the model: the first `predict` or `wake` loads it. */
  enable(): void {
    this.enabled = true;
  }

  /** Whether the worker runs (the visitor tried the model or is about to). */
  get awake(): boolean {
    return this.worker !== null;
  }

  /**
   * Start the worker, load the current version and follow new ones while the tab is visible
   * (the visitor reached for the input: loading starts before the first prediction is asked).
   */
  wake(): void {
    if (!this.enabled || this.worker) return;
    this.worker = new Worker(new URL('../worker/try.worker.ts', import.meta.url), { type: 'module' });
    this.worker.onmessage = (event: MessageEvent<TryReply>) => this.receive(event.data);
    const follow = (): void => {
      if (document.hidden) {
        if (this.timer) clearInterval(this.timer);
        this.timer = null;
      } else {
        void this.refresh();
        this.timer ??= setInterval(() => void this.refresh(), POLL_MS);
      }
    };
    document.addEventListener('visibilitychange', follow);
    follow();
  }

  /** Ask for the current version now (a round this page took part in just committed, say). */
  refresh(): Promise<void> {
    if (!this.worker) return Promise.resolve();
    this.fetching ??= this.fetchGlobal().finally(() => {
      this.fetching = null;
    });
    return this.fetching;
  }

  /**
   * The model's output on one example of the task's input, or null when no model is loaded yet
   * (the first call starts loading it: `onVersion` listeners then ask again).
   */
  predict(x: ArrayLike<number>): Promise<Prediction | null> {
    this.wake();
    if (this.version === null) return Promise.resolve(null);
    return this.predictions.call((id) => this.post({ type: 'predict', id, x: Array.from(x) }), undefined);
  }

  private post(req: TryRequest, transfer: Transferable[] = []): void {
    this.worker?.postMessage(req, transfer);
  }

  private async fetchGlobal(): Promise<void> {
    try {
      const res = await fetch(`/api/tasks/${encodeURIComponent(this.taskId)}/global`, {
        headers: this.etag ? { 'if-none-match': this.etag } : {},
        cache: 'no-store',
      });
      if (res.status === 304) return;
      if (!res.ok) {
        const body = (await res.json().catch(() => ({}))) as { message?: string };
        throw new Error(body.message ?? `the coordinator answered ${res.status}`);
      }
      const weights = await res.arrayBuffer();
      const version = checkGlobalModel(
        res.headers.get('x-pollen-version'),
        weights.byteLength,
        this.weightCount,
      );
      this.etag = res.headers.get('etag') ?? '';
      this.post({ type: 'load', task: this.task, weights, version, preferred: this.preferred }, [weights]);
    } catch (err) {
      this.onError(`could not load the model: ${(err as Error).message}`);
    }
  }

  private receive(reply: TryReply): void {
    if (reply.type === 'loaded') {
      this.version = reply.version;
      for (const listener of this.listeners) listener(reply.version);
    } else if (reply.type === 'prediction') {
      this.predictions.settle(reply.id, { probs: reply.probs, version: reply.version });
    } else {
      this.onError(reply.message);
      if (reply.id !== null) this.predictions.settle(reply.id, null);
    }
  }
}
