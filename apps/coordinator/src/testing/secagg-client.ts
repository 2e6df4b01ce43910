import { randomBytes } from 'node:crypto';
import type { Ack, RoundStartMessage, SecAggInputParts, SecAggReport } from '@pollen/fl-core';
import { inputParts, type SecureChannel, type SecureEvent, SecureRounds } from '@pollen/participation';
import type { TestSocket } from './harness.ts';

/** Where a Node test client vanishes in a secure round: after sending that stage's message. */
export type SecAggLeavePoint = 'advertise' | 'shares' | 'masked';

const STAGE_OF: Record<SecureEvent, SecAggLeavePoint | null> = {
  'secagg:advertise': 'advertise',
  'secagg:shares': 'shares',
  'secagg:masked': 'masked',
  'secagg:reveal': null,
};

/** What a test client reports with a masked input it offers by hand. */
const TEST_REPORT = {
  numExamples: 10,
  backend: 'cpu' as const,
  metrics: { loss: 1, accuracy: 0.5 },
  trainMs: 1,
};

/**
 * The client side of secure rounds for coordinator tests: participation's SecureRounds (the
 * state machine the browser's worker and the simulation run) over a real socket, with the
 * faults a test needs: vanish after a stage (closing the socket) to test drop-out recovery,
 * lose a stage message once, carry on on a new connection. Every ack is kept in `acks`.
 */
export class SecAggNodeClient {
  readonly acks: { event: string; ack: Ack }[] = [];
  /** The last masked input sent, as bytes. */
  lastMasked: Uint8Array | null = null;
  /** Stage messages to lose once, as a broken connection would (tests of `resend`). */
  readonly lose = new Set<string>();
  /** Rounds whose masked input participation waits to hear the answer to. */
  private readonly maskedAcks = new Map<number, (ack: Ack) => void>();
  private readonly rounds: SecureRounds;

  constructor(
    private socket: TestSocket,
    private readonly leaveAfter: SecAggLeavePoint | null = null,
  ) {
    this.rounds = new SecureRounds({
      randomBytes: (n) => new Uint8Array(randomBytes(n)),
      send: (roundId, event, payload) => void this.send(roundId, event, payload),
      // This side aborted (a refused request, a bad stage message): it falls silent.
      fail: (roundId, _code, message) => this.settle(roundId, { ok: false, code: 'SECAGG_ABORTED', message }),
    });
    this.listen(socket);
  }

  /** Carry on the round on a new connection of the same client (after a reconnect). */
  rebind(socket: TestSocket): void {
    this.socket = socket;
    this.listen(socket);
  }

  /**
   * A secure round started: advertise, and offer `delta` (clipped and noised already when the
   * round's privacy says so) as the input, with the clipping bit and Delta c_i when the round asks.
   */
  start(
    msg: RoundStartMessage,
    delta: Float32Array,
    extra: { readonly clipBit?: 0 | 1; readonly controlDelta?: Float32Array; readonly steps?: number } = {},
  ): void {
    this.advertise(msg);
    this.offer(msg.roundId, { delta, ...extra }, { modelVersion: msg.modelVersion, ...TEST_REPORT });
  }

  /** The port participation drives (the contributor's rounds in @pollen/participation). */
  channel(): SecureChannel {
    return {
      start: (msg) => this.advertise(msg),
      input: (msg, delta, controlDelta, clipBit, report, steps) => {
        const acked = new Promise<Ack>((resolve) => this.maskedAcks.set(msg.roundId, resolve));
        this.offer(msg.roundId, inputParts(delta, controlDelta, clipBit, steps), report);
        return acked;
      },
      end: (roundId) => {
        this.rounds.handle({ step: 'abort', roundId });
        this.settle(roundId, { ok: false, code: 'ROUND_CLOSED', message: `round ${roundId} ended` });
      },
    };
  }

  private advertise(msg: RoundStartMessage): void {
    this.rounds.handle({ step: 'start', roundId: msg.roundId, taskId: msg.taskId, block: msg.secagg! });
  }

  private offer(roundId: number, parts: SecAggInputParts, report: SecAggReport): void {
    this.rounds.handle({ step: 'input', roundId, parts, report });
  }

  private listen(socket: TestSocket): void {
    socket.on('secagg:keys', (msg) => {
      if (this.lose.delete('secagg:keys')) return;
      this.rounds.handle({ step: 'keys', roundId: msg.roundId, msg });
    });
    socket.on('secagg:deliver', (msg) => this.rounds.handle({ step: 'deliver', roundId: msg.roundId, msg }));
    socket.on('secagg:request', (msg) => this.rounds.handle({ step: 'request', roundId: msg.roundId, msg }));
    socket.on('round:end', (msg) => this.rounds.handle({ step: 'abort', roundId: msg.roundId }));
  }

  private async send(roundId: number, event: SecureEvent, payload: object): Promise<void> {
    const socket = this.socket;
    if (!socket.connected) return;
    if (event === 'secagg:masked') this.lastMasked = (payload as { masked: Uint8Array }).masked;
    let ack: Ack;
    try {
      ack = (await socket.emitWithAck(event as 'secagg:advertise', payload as never)) as Ack;
    } catch {
      return;
    }
    this.acks.push({ event, ack });
    if (event === 'secagg:masked') this.settle(roundId, ack);
    if (STAGE_OF[event] !== null && STAGE_OF[event] === this.leaveAfter) socket.disconnect();
  }

  private settle(roundId: number, ack: Ack): void {
    const resolve = this.maskedAcks.get(roundId);
    this.maskedAcks.delete(roundId);
    resolve?.(ack);
  }
}
