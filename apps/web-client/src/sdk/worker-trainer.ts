import { type Backend, type FrozenBaseRef, type HeldOutReport, parseHeldOutSettings } from '@pollen/fl-core';
import type { EvaluateInput, FrozenBase, Trainer, TrainInput, TrainOutput } from '@pollen/participation';
import { WorkerCalls } from '../worker/calls.ts';
import type { BaseTransfer, TrainTask, WorkerReply, WorkerRequest } from '../worker/messages.ts';
import type { SecAggErrorReply, SecAggSendReply } from '../worker/secagg.ts';
import type { ClientEvents } from './events.ts';

/** What the training worker tells the client beyond the answers to its requests. */
export interface WorkerTrainerEvents {
  /** A backend is ready; `recovery`: the last one broke and the worker fell back to this one. */
  backend(ready: ClientEvents['backend'] & { recovery: boolean }): void;
  progress(progress: ClientEvents['progress']): void;
  memory(memory: ClientEvents['memory']): void;
  /** The worker lost its last backend after it was ready. */
  error(message: string): void;
  /** SecAgg+ runs in the worker: what it says to send, or that it failed (secagg-relay.ts). */
  secagg(reply: SecAggSendReply | SecAggErrorReply): void;
}

/** Where a fine-tuning task's frozen base comes from (frozen-base.ts): kept, or downloaded once. */
export type BaseSource = (ref: FrozenBaseRef | null) => Promise<FrozenBase>;

/**
 * Local training in a Web Worker (worker/trainer.worker.ts), as participation's Trainer: the
 * weights and SCAFFOLD's controls are transferred to the worker and the delta back; requests
 * are matched to replies by WorkerCalls.
 */
export class WorkerTrainer implements Trainer {
  private readonly calls = new WorkerCalls<WorkerReply, number>();
  private backendName: Backend | null = null;

  private constructor(
    private readonly worker: Worker,
    private readonly task: TrainTask,
    /** The CPU share training may use now (the visitor's, capped by the task's). */
    private readonly cpuShare: () => number,
    private readonly bases: BaseSource | null,
  ) {}

  /** A fine-tuning task's frozen base for the worker, a copy to transfer; null when it trains every weight. */
  private async base(ref: FrozenBaseRef | null): Promise<BaseTransfer | null> {
    if ((this.task.trainable?.kind ?? 'all') === 'all') return null;
    if (!this.bases) throw new Error('this task fine-tunes a pretrained model and no frozen base was given');
    const { checksum, frame } = await this.bases(ref);
    return { checksum, frame: frame.slice().buffer as ArrayBuffer };
  }

  /** Start the worker and wait until a backend is ready (`preferred`, or the best that works). */
  static async start(
    task: TrainTask,
    preferred: Backend | null,
    cpuShare: () => number,
    events: WorkerTrainerEvents,
    bases: BaseSource | null = null,
  ): Promise<WorkerTrainer> {
    const worker = new Worker(new URL('../worker/trainer.worker.ts', import.meta.url), { type: 'module' });
    const trainer = new WorkerTrainer(worker, task, cpuShare, bases);
    try {
      await new Promise<void>((resolve, reject) => {
        worker.onmessage = (event: MessageEvent<WorkerReply>) => {
          const failed = trainer.receive(event.data, events);
          if (failed) reject(new Error(failed));
          else if (trainer.backendName) resolve();
        };
        worker.onerror = (event) => reject(new Error(event.message));
        worker.postMessage({ type: 'init', preferred } satisfies WorkerRequest);
      });
    } catch (err) {
      worker.terminate();
      throw err;
    }
    return trainer;
  }

  /** The backend training runs on. */
  get backend(): Backend {
    return this.backendName ?? 'cpu';
  }

  /** Post a message to the worker (SecAgg+'s stages). */
  post(req: WorkerRequest, transfer: Transferable[] = []): void {
    this.worker.postMessage(req, transfer);
  }

  /** Stop the worker; a training in flight answers 'stopped'. */
  terminate(): void {
    this.worker.terminate();
    this.calls.settleAll({ type: 'error', id: null, message: 'stopped' });
  }

  async train({ msg, weights, scaffold }: TrainInput): Promise<TrainOutput> {
    const control = scaffold?.c ?? null;
    const clientControl = scaffold?.ci ?? null;
    const base = await this.base(msg.base ?? null);
    const held = parseHeldOutSettings('evaluation', msg.evaluation);
    const transfer = [weights.buffer, control?.buffer, clientControl?.buffer, base?.frame].filter(
      (b): b is ArrayBuffer => b instanceof ArrayBuffer,
    );
    const reply = await this.calls.call(
      (id) =>
        this.post(
          {
            type: 'train',
            id,
            taskId: msg.taskId,
            task: this.task,
            training: msg.training,
            cpuShare: this.cpuShare(),
            weights: weights.buffer as ArrayBuffer,
            strategy: {
              proximalMu: msg.strategy?.proximalMu ?? 0,
              scaffold: msg.strategy?.scaffold ?? false,
            },
            control: (control?.buffer as ArrayBuffer | undefined) ?? null,
            clientControl: (clientControl?.buffer as ArrayBuffer | undefined) ?? null,
            ...held.settings,
            reportHeldOut: held.report,
            base,
          },
          transfer,
        ),
      msg.roundId,
    );
    if (reply.type !== 'result') throw new Error(reply.type === 'error' ? reply.message : 'unexpected reply');
    const floats = (b: ArrayBuffer | null): Float32Array | null => (b ? new Float32Array(b) : null);
    return {
      delta: new Float32Array(reply.delta),
      numExamples: reply.numExamples,
      metrics: reply.metrics,
      steps: reply.steps,
      clientControl: floats(reply.clientControl),
      controlDelta: floats(reply.controlDelta),
      ...(reply.heldOut ? { heldOut: reply.heldOut } : {}),
    };
  }

  /** An evaluation round: the global model on the held-out examples, in the worker. */
  async evaluate({ msg, weights }: EvaluateInput): Promise<HeldOutReport | null> {
    // An evaluation round names no base: the one kept for the task.
    const base = await this.base(null);
    const reply = await this.calls.call(
      (id) =>
        this.post(
          {
            type: 'evaluate',
            id,
            taskId: msg.taskId,
            task: this.task,
            weights: weights.buffer as ArrayBuffer,
            ...parseHeldOutSettings('eval:start', {
              heldOutFraction: msg.heldOutFraction,
              heldOutSplit: msg.heldOutSplit,
            }).settings,
            base,
          },
          [weights.buffer as ArrayBuffer, ...(base ? [base.frame] : [])],
        ),
      0,
    );
    if (reply.type !== 'evaluated')
      throw new Error(reply.type === 'error' ? reply.message : 'unexpected reply');
    return reply.heldOut;
  }

  /** Route a reply; returns the message of a failure to start (before `ready`, or with no backend left). */
  private receive(reply: WorkerReply, events: WorkerTrainerEvents): string | null {
    if (reply.type === 'secagg-send' || reply.type === 'secagg-error') {
      events.secagg(reply);
    } else if (reply.type === 'ready') {
      this.backendName = reply.backend;
      events.backend({ backend: reply.backend, skipped: reply.skipped, recovery: reply.recovery });
    } else if (reply.type === 'progress') {
      events.progress({ ...reply, roundId: this.calls.context(reply.id) ?? 0 });
    } else if (reply.type === 'error' && reply.id === null) {
      // Before `ready` the worker could not start; after it, a fallback found no backend left.
      if (this.backendName) events.error(reply.message);
      return reply.message;
    } else if (reply.id !== null) {
      if (reply.type === 'result') {
        const roundId = this.calls.context(reply.id) ?? 0;
        events.memory({ roundId, numTensors: reply.numTensors, numBytes: reply.numBytes });
      }
      this.calls.settle(reply.id, reply);
    }
    return null;
  }
}
