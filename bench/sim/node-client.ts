import { randomBytes } from 'node:crypto';
import {
  type Backend,
  type ClientToServerEvents,
  type FrozenBaseRef,
  type HeldOutReport,
  type HeldOutSettings,
  parseHeldOutSettings,
  type ServerToClientEvents,
  splitHeldOut,
  type TaskSpec,
} from '@pollen/fl-core';
import {
  arraySource,
  type BatchSource,
  buildTrainingModel,
  decodeExampleSet,
  type ExampleSet,
  frozenVariables,
  heldOutReport,
  pickExamples,
  type Trainable,
  trainableOf,
  trainLocal,
  writeVector,
} from '@pollen/ml';
import {
  baseVector,
  downloadBase,
  InMemoryDevice,
  InMemoryModelCache,
  type Link,
  Participant,
  SocketSecureChannel,
  socketLink,
  type TrainInput,
  type TrainOutput,
} from '@pollen/participation';
import type * as tf from '@tensorflow/tfjs';
import { io, type Socket } from 'socket.io-client';

import { BenchError } from '../lib/errors.ts';
import { deviceAuth } from '../lib/identity.ts';
import { sleep } from '../lib/stats.ts';
import type { Behaviour } from './behaviour.ts';

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Examples a load-generating client (`train: false`) says it holds. */
const LOAD_CLIENT_EXAMPLES = 100;

/** What a Node client needs of the task (from GET /api/tasks/:id). */
export type TaskInfo = { readonly id: string } & Pick<
  TaskSpec,
  'model' | 'input' | 'target' | 'loss' | 'metrics'
> & { readonly training?: Pick<TaskSpec['training'], 'trainable'> };

/** Counters a client keeps, summed into the simulation report. */
export interface ClientStats {
  rounds: number;
  /** Evaluation rounds it was asked in. */
  evaluations: number;
  uploads: number;
  refused: number;
  dropouts: number;
  reconnects: number;
  bytesUp: number;
  bytesDown: number;
  trainMs: number;
  errors: number;
}

/**
 * One simulated device in Node: the browser SDK's own participation (@pollen/participation:
 * rounds, privacy, compression with error feedback, SCAFFOLD's c_i kept until its round
 * commits) over Socket.io (websocket transport), with local training by the browser worker's
 * own `trainLocal` on the demo shard the coordinator serves for this client id, and the
 * device's state in memory. With `train: false` it answers rounds with a zero update at once,
 * which is how the capacity benchmark loads the coordinator without training.
 */

/**
 * A batch source that lets the event loop run between batches. Awaiting the next batch of an
 * in-memory source is only a microtask, so a whole local training would otherwise hold the
 * loop, and with several clients training in this one process a slow model (next-char's GRU)
 * keeps socket.io's heartbeats waiting past their timeout and the clients are dropped.
 */
function yielding(source: BatchSource): BatchSource {
  return {
    count: source.count,
    async *batches(batchSize: number, shuffle: boolean): AsyncIterable<ExampleSet> {
      for await (const batch of source.batches(batchSize, shuffle)) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        yield batch;
      }
    },
  };
}

export class NodeClient {
  readonly stats: ClientStats = {
    rounds: 0,
    evaluations: 0,
    uploads: 0,
    refused: 0,
    dropouts: 0,
    reconnects: 0,
    bytesUp: 0,
    bytesDown: 0,
    trainMs: 0,
    errors: 0,
  };
  /** Milliseconds the last hello took to be acknowledged. */
  helloMs = 0;
  /** The task's last broadcast model (compressed downloads), in memory as a browser keeps it in IndexedDB. */
  readonly models = new InMemoryModelCache();
  /** The last unexpected failure of a round, for the report. */
  lastError: string | null = null;
  private socket: ClientSocket | null = null;
  private link: Link | null = null;
  private model: tf.LayersModel | null = null;
  /** What the task trains; a fine-tuning task's frozen base is loaded once per checksum. */
  private readonly trainable: Trainable;
  private baseChecksum: string | null = null;
  private data: BatchSource | null = null;
  /** Every example this device holds; `data` is all of them or, under `evaluation`, the part it trains on. */
  private examplesHeld: ExampleSet | null = null;
  /** The held-out part under the round's `evaluation`, and the settings it was split by. */
  private split: { readonly key: string; readonly heldOut: BatchSource } | null = null;
  private numExamples = 0;
  private closed = false;
  private away = false;
  private readonly backend: Backend = 'wasm';
  private readonly participant: Participant;
  /** SecAgg+ in this process, for tasks with secure aggregation. */
  private readonly secure: SocketSecureChannel;

  constructor(
    private readonly url: string,
    private readonly task: TaskInfo,
    readonly clientId: string,
    private readonly behaviour: Behaviour | null,
    private readonly train = true,
    /** The examples this device holds (`pnpm sim --data`); null: the demo shard the coordinator serves. */
    private readonly examples: ExampleSet | null = null,
  ) {
    this.trainable = trainableOf(task.training ?? {});
    this.secure = new SocketSecureChannel(
      () => this.liveLink(),
      (n) => new Uint8Array(randomBytes(n)),
      (e) => {
        this.stats.errors++;
        this.lastError = e.message;
      },
    );
    this.participant = new Participant({
      clientId,
      link: () => this.liveLink(),
      backend: () => this.backend,
      trainer: {
        train: (input) => this.trainRound(input),
        // An evaluation round: the same held-out split training keeps apart, no training.
        evaluate: ({ msg, weights }) =>
          this.scoreHeldOut(
            parseHeldOutSettings('eval:start', {
              heldOutFraction: msg.heldOutFraction,
              heldOutSplit: msg.heldOutSplit,
            }).settings,
            weights,
          ),
      },
      memory: new InMemoryDevice(),
      // Compressed downloads: the task's last broadcast model, kept in memory.
      models: this.models,
      secure: this.secure,
      events: {
        selected: (_msg, bytes) => {
          this.stats.rounds++;
          this.stats.bytesDown += bytes;
        },
        refetched: (_msg, bytes) => {
          this.stats.bytesDown += bytes;
        },
        uploaded: (u) => {
          this.stats.uploads++;
          this.stats.bytesUp += u.bytes;
        },
        evaluated: (_msg, _heldOut, ack, bytesDown) => {
          this.stats.bytesDown += bytesDown;
          if (!ack.ok) this.stats.refused++;
        },
        // ROUND_CLOSED is expected: over-selected clients that finish after the target are refused.
        answered: (_msg, ack) => {
          if (!ack.ok) this.stats.refused++;
        },
        error: (e) => {
          this.stats.errors++;
          this.lastError = e.message;
        },
      },
    });
  }

  /** Fetch this client's demo shard (unless it holds its own examples), build the model and join the population. */
  async start(): Promise<void> {
    if (this.train) {
      let set = this.examples;
      if (!set) {
        const res = await fetch(`${this.url}/api/tasks/${this.task.id}/shard/${this.clientId}`);
        if (!res.ok) throw new BenchError('CLIENT_FAILED', `shard of ${this.clientId}: ${res.status}`);
        set = decodeExampleSet(this.task, new Uint8Array(await res.arrayBuffer()));
      }
      this.examplesHeld = set;
      this.numExamples = set.count;
      this.data = yielding(arraySource(this.task, set));
      this.model = await buildTrainingModel(this.task, this.trainable);
    } else {
      // A load generator: no data, no model; it claims examples so it is eligible.
      this.numExamples = LOAD_CLIENT_EXAMPLES;
    }
    await this.connect();
  }

  /** Nothing is sent while away or after close: the update of a round left is lost, as a closed tab's is. */
  private liveLink(): Link | null {
    return this.connected && !this.closed ? this.link : null;
  }

  /** Whether the client is connected and said hello. */
  get connected(): boolean {
    return this.socket?.connected === true && !this.away;
  }

  private async connect(): Promise<void> {
    const socket: ClientSocket = io(this.url, {
      auth: deviceAuth(this.clientId),
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: 20_000,
    });
    this.socket = socket;
    this.link = socketLink(socket, 60_000);
    socket.on('round:start', (msg) => {
      if (this.socket === socket) void this.participant.roundStart(msg);
    });
    socket.on('round:end', (msg) => void this.participant.roundEnd(msg));
    socket.on('eval:start', (msg) => {
      this.stats.evaluations++;
      void this.participant.evaluationStart(msg);
    });
    this.secure.attach(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (err) =>
        reject(new BenchError('CLIENT_FAILED', `${this.clientId} could not connect: ${err.message}`)),
      );
    });
    const helloStart = performance.now();
    const reply = await socket
      .timeout(20_000)
      .emitWithAck(
        'hello',
        this.participant.hello(
          this.task.id,
          this.numExamples,
          true,
          await this.participant.cachedModel(this.task.id),
        ),
      );
    this.helloMs = performance.now() - helloStart;
    if (!reply.ok)
      throw new BenchError('CLIENT_FAILED', `hello of ${this.clientId}: ${reply.code} ${reply.message}`);
  }

  /**
   * Vanish (the connection breaks, as a closed tab's does: no goodbye, so the coordinator
   * gives it its reconnect grace period) and come back with the same id after `ms`.
   */
  async leaveFor(ms: number): Promise<void> {
    if (this.closed || this.away) return;
    this.away = true;
    const socket = this.socket;
    this.socket = null;
    socket?.io.engine?.close();
    socket?.disconnect();
    await sleep(ms);
    this.away = false;
    if (this.closed) return;
    this.stats.reconnects++;
    await this.connect();
  }

  /**
   * Local training for a round, or the drop-out the behaviour plans for it: vanish (and come
   * back later), withdraw, or stay silent. A load generator answers with a zero update at once.
   */
  private async trainRound({ msg, weights, scaffold }: TrainInput): Promise<TrainOutput | null> {
    const plan = this.behaviour?.planRound(this.clientId, msg.roundId) ?? { dropout: null, delayMs: 0 };
    if (plan.dropout) {
      this.stats.dropouts++;
      await sleep(plan.delayMs);
      if (plan.dropout === 'vanish') void this.leaveFor(this.behaviour!.awayMs());
      else if (plan.dropout === 'withdraw' && this.connected) {
        await this.link!.request('withdraw', {
          taskId: msg.taskId,
          roundId: msg.roundId,
          reason: 'simulated drop-out',
        });
      }
      // 'silent': stay connected and never answer; the round's deadline deals with it.
      return null;
    }
    let out: TrainOutput;
    if (this.train) {
      await this.loadBase(msg.base ?? null);
      const held = parseHeldOutSettings('evaluation', msg.evaluation);
      const heldOut = await this.scoreHeldOut(held.settings, weights, held.report);
      const result = await trainLocal(this.model!, this.data!, weights, msg.training, this.task, undefined, {
        trainable: this.trainable,
        proximalMu: msg.strategy?.proximalMu ?? 0,
        ...(scaffold
          ? { scaffold: { c: scaffold.c, ci: scaffold.ci ?? new Float32Array(weights.length) } }
          : {}),
      });
      this.stats.trainMs += result.trainMs;
      out = {
        delta: result.delta,
        numExamples: this.numExamples,
        metrics: { metrics: result.metrics, trainMs: result.trainMs },
        steps: result.steps,
        clientControl: result.scaffold?.ci ?? null,
        controlDelta: result.scaffold?.deltaC ?? null,
        ...(heldOut ? { heldOut } : {}),
      };
    } else {
      // A stand-in trains one step of nothing.
      out = {
        delta: new Float32Array(weights.length),
        numExamples: this.numExamples,
        metrics: { metrics: { loss: 0 }, trainMs: 0 },
        steps: 1,
        clientControl: null,
        controlDelta: scaffold ? new Float32Array(weights.length) : null,
      };
    }
    await sleep(plan.delayMs);
    return out;
  }

  /**
   * Under the round's `evaluation`: keep apart the examples fl-core's splitHeldOut picks (by
   * index from 1, as the browser's IndexedDB keys count), train on the rest from now on, and
   * score the global model on the held-out ones before training (docs/tasks.md, "Evaluation on
   * the devices") unless `score` is false (the round takes no report). Null when nothing is
   * held out or scored.
   */
  private async scoreHeldOut(
    settings: HeldOutSettings,
    global: Float32Array,
    score = true,
  ): Promise<HeldOutReport | null> {
    const set = this.examplesHeld!;
    const key = JSON.stringify(settings);
    if (this.split?.key !== key) {
      // Keys in the order the client's examples were made (a document's windows in order).
      const keys = Array.from({ length: set.count }, (_, i) => i + 1);
      const { train, heldOut } = splitHeldOut(keys, settings.heldOutFraction, settings.heldOutSplit);
      const pick = (ks: readonly number[]): ExampleSet =>
        pickExamples(
          this.task,
          set,
          ks.map((k) => k - 1),
        );
      this.data = yielding(arraySource(this.task, heldOut.length === 0 ? set : pick(train)));
      this.split = { key, heldOut: arraySource(this.task, pick(heldOut)) };
    }
    if (!score) return null;
    await this.loadBase(null);
    return heldOutReport(this.model!, this.split.heldOut, global, this.task, this.trainable);
  }

  /**
   * A fine-tuning task's frozen base, into the model's frozen weights: downloaded when the
   * round names another checksum than the one loaded (or none is loaded yet), checked against it.
   */
  private async loadBase(ref: FrozenBaseRef | null): Promise<void> {
    if (this.trainable.kind === 'all') return;
    if (this.baseChecksum !== null && (ref === null || ref.checksum === this.baseChecksum)) return;
    const base = await downloadBase(this.url, this.task.id, ref?.checksum ?? null).catch((err: Error) => {
      throw new BenchError('CLIENT_FAILED', `frozen base of ${this.task.id}: ${err.message}`);
    });
    writeVector(frozenVariables(this.model!, this.trainable), baseVector(base));
    this.baseChecksum = base.checksum;
    this.stats.bytesDown += base.frame.byteLength;
  }

  /** Disconnect for good and free the model and data. */
  close(): void {
    this.closed = true;
    this.socket?.disconnect();
    this.socket = null;
    this.model?.dispose();
    this.model = null;
    this.data = null;
  }
}
