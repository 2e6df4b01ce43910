import { decodeDense, encodeDense } from '@pollen/compression';
import {
  type Backend,
  type ClientMetrics,
  type ClientToServerEvents,
  PROTOCOL_VERSION,
  type RoundStartMessage,
  type ServerToClientEvents,
  type TaskSpec,
  toBytes,
} from '@pollen/fl-core';
import {
  arraySource,
  type BatchSource,
  buildModel,
  decodeExampleSet,
  type ExampleSet,
  trainLocal,
} from '@pollen/ml';
import { encodeRoundUpload } from '@pollen/web-client';
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
>;

/** Counters a client keeps, summed into the simulation report. */
export interface ClientStats {
  rounds: number;
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
 * One simulated device in Node: the contributor protocol over Socket.io (websocket
 * transport, the typed events of fl-core), local training with the browser worker's own
 * `trainLocal` on the demo shard the coordinator serves for this client id (FedProx and
 * SCAFFOLD included, c_i kept until its round commits, as the SDK does), the round's privacy
 * block and the round's compression applied with the SDK's own `encodeRoundUpload` (error
 * feedback's residual kept in memory). With `train: false` it answers rounds with a zero update at once,
 * which is how the capacity benchmark loads the coordinator without training.
 */
export class NodeClient {
  readonly stats: ClientStats = {
    rounds: 0,
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
  /** The last unexpected failure of a round, for the report. */
  lastError: string | null = null;
  private socket: ClientSocket | null = null;
  private model: tf.LayersModel | null = null;
  private data: BatchSource | null = null;
  private numExamples = 0;
  /** SCAFFOLD's c_i, kept like the browser keeps it in IndexedDB; replaced when a round commits. */
  private control: Float32Array | null = null;
  private readonly pendingControls = new Map<number, Float32Array>();
  /** Error feedback's residual, kept in memory as the browser keeps it in IndexedDB. */
  private residual: Float32Array | null = null;
  private closed = false;
  private away = false;
  private readonly backend: Backend = 'wasm';

  constructor(
    private readonly url: string,
    private readonly task: TaskInfo,
    readonly clientId: string,
    private readonly behaviour: Behaviour | null,
    private readonly train = true,
    /** The examples this device holds (`pnpm sim --data`); null: the demo shard the coordinator serves. */
    private readonly examples: ExampleSet | null = null,
  ) {}

  /** Fetch this client's demo shard (unless it holds its own examples), build the model and join the population. */
  async start(): Promise<void> {
    if (this.train && this.examples) {
      this.numExamples = this.examples.count;
      this.data = arraySource(this.task, this.examples);
      this.model = await buildModel(this.task);
    } else if (this.train) {
      const res = await fetch(`${this.url}/api/tasks/${this.task.id}/shard/${this.clientId}`);
      if (!res.ok) throw new BenchError('CLIENT_FAILED', `shard of ${this.clientId}: ${res.status}`);
      const set = decodeExampleSet(this.task, new Uint8Array(await res.arrayBuffer()));
      this.numExamples = set.count;
      this.data = arraySource(this.task, set);
      this.model = await buildModel(this.task);
    } else {
      // A load generator: no data, no model; it claims examples so it is eligible.
      this.numExamples = LOAD_CLIENT_EXAMPLES;
    }
    await this.connect();
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
    socket.on('round:start', (msg) => {
      if (this.socket !== socket) return;
      this.onRound(msg).catch((err: unknown) => {
        this.stats.errors++;
        this.lastError = (err as Error).message;
      });
    });
    socket.on('round:end', (msg) => {
      const ci = this.pendingControls.get(msg.roundId);
      this.pendingControls.delete(msg.roundId);
      if (ci && msg.status === 'committed') this.control = ci;
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (err) =>
        reject(new BenchError('CLIENT_FAILED', `${this.clientId} could not connect: ${err.message}`)),
      );
    });
    const helloStart = performance.now();
    const reply = await socket.timeout(20_000).emitWithAck('hello', {
      protocolVersion: PROTOCOL_VERSION,
      clientId: this.clientId,
      taskId: this.task.id,
      backend: this.backend,
      numExamples: this.numExamples,
      eligible: true,
    });
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

  private async onRound(msg: RoundStartMessage): Promise<void> {
    this.stats.rounds++;
    const weights = toBytes(msg.weights);
    this.stats.bytesDown += weights.byteLength;
    const plan = this.behaviour?.planRound(this.clientId, msg.roundId) ?? { dropout: null, delayMs: 0 };
    if (plan.dropout) {
      this.stats.dropouts++;
      await sleep(plan.delayMs);
      if (plan.dropout === 'vanish') void this.leaveFor(this.behaviour!.awayMs());
      else if (plan.dropout === 'withdraw' && this.socket?.connected) {
        await this.socket.emitWithAck('withdraw', {
          taskId: msg.taskId,
          roundId: msg.roundId,
          reason: 'simulated drop-out',
        });
      }
      // 'silent': stay connected and never answer; the round's deadline deals with it.
      return;
    }
    const { vector } = decodeDense(weights);
    const strategy = msg.strategy ?? { proximalMu: 0, scaffold: false };
    let scaffold: { c: Float32Array; ci: Float32Array } | undefined;
    if (strategy.scaffold) {
      if (!msg.control)
        throw new BenchError('CLIENT_FAILED', 'a SCAFFOLD round came without its control variate');
      const control = toBytes(msg.control);
      this.stats.bytesDown += control.byteLength;
      const c = decodeDense(control, { dimension: vector.length }).vector;
      scaffold = { c, ci: this.control ?? new Float32Array(vector.length) };
    }
    let delta: Float32Array;
    let controlDelta: Float32Array | null = null;
    let nextControl: Float32Array | null = null;
    let metrics: ClientMetrics = { metrics: { loss: 0 }, trainMs: 0 };
    if (this.train) {
      const result = await trainLocal(this.model!, this.data!, vector, msg.training, this.task, undefined, {
        proximalMu: strategy.proximalMu,
        scaffold,
      });
      delta = result.delta;
      metrics = { metrics: result.metrics, trainMs: result.trainMs };
      controlDelta = result.scaffold?.deltaC ?? null;
      nextControl = result.scaffold?.ci ?? null;
      this.stats.trainMs += metrics.trainMs;
    } else {
      delta = new Float32Array(vector.length);
      if (scaffold) controlDelta = new Float32Array(vector.length);
    }
    await sleep(plan.delayMs);
    const socket = this.socket;
    if (!socket?.connected || this.closed) return;
    // The round's privacy and compression, with the browser SDK's own module (CSPRNG noise).
    const upload = encodeRoundUpload(delta, msg, this.residual);
    const frame = upload.frame;
    const clipBit = upload.privacy?.clipBit;
    const controlFrame = controlDelta ? encodeDense(controlDelta, msg.codec, { round: msg.roundId }) : null;
    const ack = await socket.timeout(60_000).emitWithAck('update', {
      taskId: msg.taskId,
      roundId: msg.roundId,
      modelVersion: msg.modelVersion,
      numExamples: this.numExamples,
      backend: this.backend,
      ...metrics,
      update: frame,
      ...(controlFrame ? { controlDelta: controlFrame } : {}),
      ...(clipBit !== undefined ? { clipBit } : {}),
    });
    if (ack.ok) {
      this.stats.uploads++;
      this.stats.bytesUp += frame.byteLength + (controlFrame?.byteLength ?? 0);
      if (nextControl) this.pendingControls.set(msg.roundId, nextControl);
      if (msg.compression?.errorFeedback) this.residual = upload.residual;
    } else {
      // ROUND_CLOSED is expected: over-selected clients that finish after the target are refused.
      this.stats.refused++;
    }
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
