import {
  type Ack,
  OPERATOR_NAMESPACE,
  type OperatorAction,
  type OperatorClientToServerEvents,
  type OperatorEvaluationRound,
  type OperatorRound,
  type OperatorServerToClientEvents,
  type OperatorSnapshot,
  type OperatorTask,
} from '@pollen/fl-core';
import { io, type Socket } from 'socket.io-client';

type OperatorSocket = Socket<OperatorServerToClientEvents, OperatorClientToServerEvents>;

export interface LiveHandlers {
  /** Connected (again): the snapshot of the watched task. */
  snapshot(snapshot: OperatorSnapshot): void;
  round(round: OperatorRound): void;
  /** An evaluation round opened or closed (task `evaluation.federated`). */
  evaluation(evaluation: OperatorEvaluationRound): void;
  task(task: OperatorTask): void;
  /** The token was refused: sign in again. */
  refused(message: string): void;
  /** The feed dropped or came back (Socket.io reconnects by itself). */
  connection(live: boolean): void;
  error(message: string): void;
}

/**
 * The dashboard's feed: the coordinator's `/operator` namespace, authenticated with the
 * operator token in the handshake. Every (re)connection subscribes again and gets a fresh
 * snapshot, so nothing is missed while the feed was down.
 */
export class LiveFeed {
  private readonly socket: OperatorSocket;

  constructor(
    token: string,
    private taskId: string,
    private readonly on: LiveHandlers,
  ) {
    this.socket = io(OPERATOR_NAMESPACE, { auth: { token }, transports: ['websocket'] });
    this.socket.on('connect', () => {
      on.connection(true);
      void this.subscribe();
    });
    this.socket.on('disconnect', () => on.connection(false));
    this.socket.on('connect_error', (err) => {
      const code = (err as Error & { data?: { code?: string } }).data?.code;
      if (code === 'UNAUTHORIZED') {
        this.close();
        on.refused('The operator token was refused.');
      } else {
        on.connection(false);
      }
    });
    this.socket.on('round', (r) => {
      if (r.taskId === this.taskId) on.round(r);
    });
    this.socket.on('evaluation', (e) => {
      if (e.taskId === this.taskId) on.evaluation(e);
    });
    this.socket.on('task', (t) => {
      if (t.id === this.taskId) on.task(t);
    });
  }

  /** Watch another task. */
  watch(taskId: string): void {
    this.taskId = taskId;
    if (this.socket.connected) void this.subscribe();
  }

  /** Resume or pause the watched task. */
  async control(action: OperatorAction): Promise<void> {
    const reply = await this.socket.emitWithAck('control', { taskId: this.taskId, action });
    if (!reply.ok) this.on.error(`${reply.code}: ${reply.message}`);
    else this.on.task(reply.task);
  }

  close(): void {
    this.socket.disconnect();
  }

  private async subscribe(): Promise<void> {
    const taskId = this.taskId;
    const reply: Ack<OperatorSnapshot> = await this.socket.emitWithAck('subscribe', { taskId });
    if (taskId !== this.taskId) return;
    if (reply.ok) this.on.snapshot(reply);
    else this.on.error(`${reply.code}: ${reply.message}`);
  }
}
