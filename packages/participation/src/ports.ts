import type {
  Ack,
  ClientMetrics,
  ClientToServerEvents,
  EvaluationStartMessage,
  HeldOutReport,
  RoundStartMessage,
  SecAggReport,
} from '@pollen/fl-core';

/**
 * What participation needs from the device it runs on, as ports: the connection, local
 * training, the state a device keeps between rounds, and secure aggregation's client. The
 * browser SDK implements them with Socket.io, a Web Worker and IndexedDB; the coordinator's
 * test harness and the Node simulation with Socket.io in Node, tfjs (or a stand-in) and memory.
 */

type ClientEvent = keyof ClientToServerEvents;

/** A client-to-server message of the protocol. */
export type RequestOf<E extends ClientEvent> = Parameters<ClientToServerEvents[E]>[0];

/** The coordinator's acknowledgement of that message. */
export type ReplyOf<E extends ClientEvent> = Parameters<Parameters<ClientToServerEvents[E]>[1]>[0];

/** The connection to the coordinator: a request and its acknowledgement. */
export interface Link {
  readonly connected: boolean;
  request<E extends ClientEvent>(event: E, msg: RequestOf<E>): Promise<ReplyOf<E>>;
}

/** What a socket (Socket.io's client, or a test double) offers that a Link is made of. */
export interface AckSocket {
  readonly connected: boolean;
  emitWithAck(event: string, ...args: unknown[]): Promise<unknown>;
  timeout?(ms: number): { emitWithAck(event: string, ...args: unknown[]): Promise<unknown> };
}

/**
 * A Link over a Socket.io client socket. With `timeoutMs`, a request the coordinator does not
 * answer in time rejects (Socket.io's `timeout()`); without it, it waits as long as it takes.
 */
export function socketLink(socket: AckSocket, timeoutMs: number | null = null): Link {
  return {
    get connected() {
      return socket.connected;
    },
    request: (event, msg) => {
      const target = timeoutMs !== null && socket.timeout ? socket.timeout(timeoutMs) : socket;
      return target.emitWithAck(event, msg) as Promise<never>;
    },
  };
}

/**
 * Send a round's upload (an `update`, or a secure round's `secagg:masked`) once the coordinator
 * grants it a slot (`upload:slot`: flow control, docs/protocol.md); a refused slot is the answer.
 */
export async function sendUpload<E extends 'update' | 'secagg:masked'>(
  link: Link,
  event: E,
  msg: RequestOf<E>,
): Promise<ReplyOf<E> | ReplyOf<'upload:slot'>> {
  const slot = await link.request('upload:slot', { taskId: msg.taskId, roundId: msg.roundId });
  if (!slot.ok) return slot;
  return link.request(event, msg);
}

/** What local training is given for a round. */
export interface TrainInput {
  readonly msg: RoundStartMessage;
  /** The global model the round trains from (the trainer may take its buffer). */
  readonly weights: Float32Array;
  /** SCAFFOLD: the server's c and this device's c_i (null: zeros); null when the round has no SCAFFOLD. */
  readonly scaffold: { readonly c: Float32Array; readonly ci: Float32Array | null } | null;
}

/** What local training produced. */
export interface TrainOutput {
  /** w_local - w_global. */
  readonly delta: Float32Array;
  readonly numExamples: number;
  /** `loss` and the task's metrics after local training, and its milliseconds. */
  readonly metrics: ClientMetrics;
  /** Local optimizer steps taken. */
  readonly steps: number;
  /**
   * The global model's metrics on the device's held-out examples, measured before training,
   * when the round's start asked for them (`evaluation`) and the device holds some back.
   */
  readonly heldOut?: HeldOutReport;
  /** SCAFFOLD: c_i+, kept once the round commits; null otherwise. */
  readonly clientControl: Float32Array | null;
  /** SCAFFOLD: Delta c_i, sent with the update; null otherwise. */
  readonly controlDelta: Float32Array | null;
}

/** What an evaluation round's scoring is given. */
export interface EvaluateInput {
  readonly msg: EvaluationStartMessage;
  /** The global model to score (the trainer may take its buffer). */
  readonly weights: Float32Array;
}

export interface Trainer {
  /** Train for the round; null: this device sends nothing for it (it left, or a simulation drops it). */
  train(input: TrainInput): Promise<TrainOutput | null>;
  /**
   * An evaluation round: the global model's metrics on the device's held-out examples (the
   * split training keeps apart); null: it holds none. Absent: the device cannot evaluate.
   */
  evaluate?(input: EvaluateInput): Promise<HeldOutReport | null>;
}

/** What a device keeps between rounds: SCAFFOLD's c_i and error feedback's residual. */
export interface DeviceMemory {
  loadControl(taskId: string, dimension: number): Promise<Float32Array | null>;
  saveControl(taskId: string, control: Float32Array, roundId: number): Promise<void>;
  loadResidual(taskId: string, dimension: number): Promise<Float32Array | null>;
  /** null: nothing left to carry. */
  saveResidual(taskId: string, residual: Float32Array | null, roundId: number): Promise<void>;
}

/** A DeviceMemory in memory, for Node clients (the browser keeps it in IndexedDB). */
export class InMemoryDevice implements DeviceMemory {
  control: Float32Array | null = null;
  residual: Float32Array | null = null;

  async loadControl(_taskId: string, dimension: number): Promise<Float32Array | null> {
    return this.control?.length === dimension ? this.control : null;
  }

  async saveControl(_taskId: string, control: Float32Array): Promise<void> {
    this.control = control;
  }

  async loadResidual(_taskId: string, dimension: number): Promise<Float32Array | null> {
    return this.residual?.length === dimension ? this.residual : null;
  }

  async saveResidual(_taskId: string, residual: Float32Array | null): Promise<void> {
    this.residual = residual;
  }
}

/** What the secure channel needs of a round: a training round's start, or a secure evaluation round. */
export type SecureRoundRef = Pick<RoundStartMessage, 'taskId' | 'roundId' | 'secagg'>;

/**
 * Secure aggregation's client (SecAgg+, fl-core's SecAggSession): in the browser it runs in the
 * training worker, in Node in the process. It advertises when the round starts, takes the
 * finished input, and answers the coordinator's stage messages on its own.
 */
export interface SecureChannel {
  /** A secure round (one with a `secagg` block) started: advertise this device's keys at once, before training. */
  start(msg: SecureRoundRef): void;
  /** The input is ready: mask it once the partners' shares are in; resolves with the masked input's ack. */
  input(
    msg: SecureRoundRef,
    delta: Float32Array,
    controlDelta: Float32Array | null,
    clipBit: 0 | 1 | null,
    report: SecAggReport,
    steps: number | null,
  ): Promise<Ack>;
  /** The round ended: forget it (a waiting `input` resolves refused). */
  end(roundId: number): void;
}
