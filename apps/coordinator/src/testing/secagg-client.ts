import { randomBytes } from 'node:crypto';
import { type Ack, type RoundStartMessage, type SecAggReport, SecAggSession } from '@pollen/fl-core';
import type { SecureChannel } from '@pollen/participation';
import type { TestSocket } from './harness.ts';

/** Where a Node test client vanishes in a secure round: after sending that stage's message. */
export type SecAggLeavePoint = 'advertise' | 'shares' | 'masked';

/**
 * The client side of secure rounds for coordinator tests: the same fl-core SecAggSession the
 * browser's worker runs, over a real socket. It advertises on round:start, answers each
 * server stage, masks `delta` once the partners' shares arrived, and can vanish after a
 * stage (closing its socket) to test drop-out recovery. Every ack is kept in `acks`.
 */
export class SecAggNodeClient {
  readonly acks: { event: string; ack: Ack }[] = [];
  /** The last session, for tests that look inside (the masked vector it sent, say). */
  session: SecAggSession | null = null;
  /** The last masked input sent, as bytes. */
  lastMasked: Uint8Array | null = null;

  /** Stage messages to lose once, as a broken connection would (tests of `resend`). */
  readonly lose = new Set<string>();
  /** Rounds whose masked input participation waits to hear the answer to. */
  private readonly maskedAcks = new Map<number, (ack: Ack) => void>();

  constructor(
    private socket: TestSocket,
    private readonly leaveAfter: SecAggLeavePoint | null = null,
  ) {
    this.listen(socket);
  }

  /** Carry on the round on a new connection of the same client (after a reconnect). */
  rebind(socket: TestSocket): void {
    this.socket = socket;
    this.listen(socket);
  }

  private lost(event: string): boolean {
    return this.lose.delete(event);
  }

  private listen(socket: TestSocket): void {
    socket.on('secagg:keys', (msg) => {
      if (this.lost('secagg:keys')) return;
      const session = this.current(msg.roundId);
      if (session) void this.emit('secagg:shares', () => session.onKeys(msg), 'shares');
    });
    socket.on('secagg:deliver', (msg) => {
      const session = this.current(msg.roundId);
      if (session) void this.emit('secagg:masked', () => session.offerDelivery(msg), 'masked');
    });
    socket.on('secagg:request', (msg) => {
      const session = this.current(msg.roundId);
      if (session) void this.emit('secagg:reveal', () => session.onRequest(msg), null);
    });
    socket.on('round:end', () => {
      this.session?.abort();
    });
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
    const report = {
      modelVersion: msg.modelVersion,
      numExamples: 10,
      backend: 'cpu' as const,
      metrics: { loss: 1, accuracy: 0.5 },
      trainMs: 1,
    };
    this.offer(msg, delta, extra, report);
  }

  /** The port participation drives (the contributor's rounds in @pollen/participation). */
  channel(): SecureChannel {
    return {
      start: (msg) => this.advertise(msg),
      input: (msg, delta, controlDelta, clipBit, report, steps) => {
        const acked = new Promise<Ack>((resolve) => this.maskedAcks.set(msg.roundId, resolve));
        this.offer(
          msg,
          delta,
          {
            ...(clipBit !== null ? { clipBit } : {}),
            ...(controlDelta ? { controlDelta } : {}),
            ...(steps !== null ? { steps } : {}),
          },
          report,
        );
        return acked;
      },
      end: (roundId) =>
        this.settle(roundId, { ok: false, code: 'ROUND_CLOSED', message: `round ${roundId} ended` }),
    };
  }

  private advertise(msg: RoundStartMessage): void {
    const session = new SecAggSession(
      msg.taskId,
      msg.roundId,
      msg.secagg!,
      (n) => new Uint8Array(randomBytes(n)),
    );
    this.session = session;
    void this.emit('secagg:advertise', () => session.advertise(), 'advertise');
  }

  private offer(
    msg: RoundStartMessage,
    delta: Float32Array,
    extra: { readonly clipBit?: 0 | 1; readonly controlDelta?: Float32Array; readonly steps?: number },
    report: SecAggReport,
  ): void {
    const session = this.current(msg.roundId);
    if (!session) return;
    void this.emit(
      'secagg:masked',
      () => session.offerInput(delta.length, { delta, ...extra }, report),
      'masked',
    );
  }

  private settle(roundId: number, ack: Ack): void {
    const resolve = this.maskedAcks.get(roundId);
    this.maskedAcks.delete(roundId);
    resolve?.(ack);
  }

  private current(roundId: number): SecAggSession | null {
    return this.session && this.session.roundId === roundId ? this.session : null;
  }

  private async emit(
    event: string,
    make: () => object | null,
    stage: SecAggLeavePoint | null,
  ): Promise<void> {
    if (!this.socket.connected) return;
    let payload: object | null;
    try {
      payload = make();
    } catch {
      // The client aborted its side (SECAGG_ABORTED, a refused request): it falls silent.
      return;
    }
    if (!payload) return;
    if (event === 'secagg:masked') this.lastMasked = (payload as { masked: Uint8Array }).masked;
    try {
      const ack = (await this.socket.emitWithAck(event as 'secagg:advertise', payload as never)) as Ack;
      this.acks.push({ event, ack });
      if (event === 'secagg:masked') this.settle((payload as { roundId: number }).roundId, ack);
    } catch {
      return;
    }
    if (stage !== null && stage === this.leaveAfter) this.socket.disconnect();
  }
}
