import { randomBytes } from 'node:crypto';
import type { Ack, RoundStartMessage } from '@pollen/fl-core';
import {
  type SecureChannel,
  type SecureEvent,
  SocketSecureChannel,
  type StageSource,
  socketLink,
} from '@pollen/participation';
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
 * The client side of secure rounds for coordinator tests: participation's SocketSecureChannel
 * (the SecureRounds state machine the browser's worker and the simulation run) over a real
 * socket, with the faults a test needs: vanish after a stage (closing the socket) to test
 * drop-out recovery, lose a stage message once, carry on on a new connection. Every ack is
 * kept in `acks`.
 */
export class SecAggNodeClient {
  readonly acks: { event: string; ack: Ack }[] = [];
  /** The last masked input sent, as bytes. */
  lastMasked: Uint8Array | null = null;
  /** Stage messages to lose once, as a broken connection would (tests of `resend`). */
  readonly lose = new Set<string>();
  private readonly secure: SocketSecureChannel;

  constructor(
    private socket: TestSocket,
    leaveAfter: SecAggLeavePoint | null = null,
  ) {
    this.secure = new SocketSecureChannel(
      // Sent on the current connection while it lasts; nothing once the client vanished.
      () => (this.socket.connected ? socketLink(this.socket) : null),
      (n) => new Uint8Array(randomBytes(n)),
      // A side that aborted (a refused request, a bad stage message) just falls silent.
      () => undefined,
      {
        sending: (event, payload) => {
          if (event === 'secagg:masked') this.lastMasked = (payload as { masked: Uint8Array }).masked;
        },
        answered: (event, ack) => {
          this.acks.push({ event, ack });
          if (STAGE_OF[event] !== null && STAGE_OF[event] === leaveAfter) this.socket.disconnect();
        },
      },
    );
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
    this.secure.start(msg);
    const report = { modelVersion: msg.modelVersion, ...TEST_REPORT };
    void this.secure.input(
      msg,
      delta,
      extra.controlDelta ?? null,
      extra.clipBit ?? null,
      report,
      extra.steps ?? null,
    );
  }

  /** The port participation drives (the contributor's rounds in @pollen/participation). */
  channel(): SecureChannel {
    return this.secure;
  }

  private listen(socket: TestSocket): void {
    // The stage messages, less the ones a test asked to lose once.
    const source = {
      on: (event: string, listener: (msg: never) => void) =>
        socket.on(event as 'secagg:keys', (msg) => {
          if (!this.lose.delete(event)) listener(msg as never);
        }),
    } as StageSource;
    this.secure.attach(source);
    socket.on('round:end', (msg) => this.secure.end(msg.roundId));
  }
}
