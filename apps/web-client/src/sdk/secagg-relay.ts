import type { Ack, ClientToServerEvents, SecAggReport, ServerToClientEvents } from '@pollen/fl-core';
import { type SecureRoundRef, sendStage, socketLink } from '@pollen/participation';
import type { Socket } from 'socket.io-client';
import type { SecAggErrorReply, SecAggSendReply, SecAggWorkerRequest } from '../worker/secagg.ts';

type PollenSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * The page's part in secure aggregation: a relay. The coordinator's stage messages go to the
 * training worker, which runs the protocol (worker/secagg.ts), and what the worker says to
 * send goes to the coordinator; no key or share is handled here. `input` hands the worker the
 * finished update and resolves with the coordinator's answer to the masked input.
 */
export class SecAggRelay {
  private socket: PollenSocket | null = null;
  private readonly waiting = new Map<number, (ack: Ack) => void>();

  constructor(
    /** Where the worker's SecAgg+ runs: the training worker, while there is one. */
    private readonly worker: () => { post(req: SecAggWorkerRequest, transfer?: Transferable[]): void } | null,
    private readonly onError: (error: { code: string; message: string }) => void,
  ) {}

  /** Forward the coordinator's stage messages on this socket to the worker. */
  attach(socket: PollenSocket): void {
    this.socket = socket;
    socket.on('secagg:keys', (msg) => this.post({ type: 'secagg', step: 'keys', roundId: msg.roundId, msg }));
    socket.on('secagg:deliver', (msg) =>
      this.post({ type: 'secagg', step: 'deliver', roundId: msg.roundId, msg }),
    );
    socket.on('secagg:request', (msg) =>
      this.post({ type: 'secagg', step: 'request', roundId: msg.roundId, msg }),
    );
  }

  /** A secure round started: the worker advertises this device's keys at once, before training. */
  start(msg: SecureRoundRef): void {
    if (!msg.secagg) return;
    this.post({ type: 'secagg', step: 'start', roundId: msg.roundId, taskId: msg.taskId, block: msg.secagg });
  }

  /** The update is ready: the worker masks it once the partners' shares are in; resolves with the ack. */
  input(
    msg: SecureRoundRef,
    delta: Float32Array,
    controlDelta: Float32Array | null,
    clipBit: 0 | 1 | null,
    report: SecAggReport,
    steps: number | null = null,
  ): Promise<Ack> {
    const acked = new Promise<Ack>((resolve) => this.waiting.set(msg.roundId, resolve));
    const copy = delta.slice();
    const control = controlDelta?.slice() ?? null;
    this.post(
      {
        type: 'secagg',
        step: 'input',
        roundId: msg.roundId,
        delta: copy.buffer as ArrayBuffer,
        controlDelta: (control?.buffer as ArrayBuffer | undefined) ?? null,
        clipBit,
        steps,
        report,
      },
      [copy.buffer as ArrayBuffer, ...(control ? [control.buffer as ArrayBuffer] : [])],
    );
    return acked;
  }

  /** The round ended: the worker wipes what it still holds of it. */
  end(roundId: number): void {
    this.post({ type: 'secagg', step: 'abort', roundId });
    this.settle(roundId, { ok: false, code: 'ROUND_CLOSED', message: `round ${roundId} ended` });
  }

  /** A message from the worker for the coordinator, or its failure. */
  fromWorker(reply: SecAggSendReply | SecAggErrorReply): void {
    if (reply.type === 'secagg-error') {
      this.onError({ code: reply.code, message: `secure aggregation: ${reply.message}` });
      this.settle(reply.roundId, { ok: false, code: 'SECAGG_ABORTED', message: reply.message });
      return;
    }
    const socket = this.socket;
    if (!socket) return;
    const sent = sendStage(socketLink(socket), reply.event, reply.payload);
    void sent.then(
      (ack) => {
        if (reply.event === 'secagg:masked') this.settle(reply.roundId, ack);
        else if (!ack.ok) this.onError({ code: ack.code, message: ack.message });
      },
      () => undefined,
    );
  }

  private settle(roundId: number, ack: Ack): void {
    const resolve = this.waiting.get(roundId);
    this.waiting.delete(roundId);
    resolve?.(ack);
  }

  private post(req: SecAggWorkerRequest, transfer: Transferable[] = []): void {
    this.worker()?.post(req, transfer);
  }
}
