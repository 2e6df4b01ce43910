import {
  type Ack,
  type RoundSecAgg,
  type SecAggInputParts,
  type SecAggKeysEvent,
  type SecAggMaskedEvent,
  type SecAggReport,
  type SecAggRequestEvent,
  SecAggSession,
  type SecAggSharesEvent,
} from '@pollen/fl-core';
import { type Link, type SecureChannel, type SecureRoundRef, sendUpload } from './ports.ts';

/**
 * The device's side of secure rounds (SecAgg+, fl-core's SecAggSession), once: a session per
 * round, fed the round's block, the coordinator's stage messages and the finished input, and
 * answering each with what to send. The browser runs it in the training worker (its keys and
 * shares never reach the page); Node clients run it in the process (`SocketSecureChannel`).
 */

/** One step of a secure round, as the device hears it. */
export type SecureStep =
  | { readonly step: 'start'; readonly roundId: number; readonly taskId: string; readonly block: RoundSecAgg }
  | { readonly step: 'keys'; readonly roundId: number; readonly msg: SecAggKeysEvent }
  | { readonly step: 'deliver'; readonly roundId: number; readonly msg: SecAggSharesEvent }
  | { readonly step: 'request'; readonly roundId: number; readonly msg: SecAggRequestEvent }
  | {
      readonly step: 'input';
      readonly roundId: number;
      readonly parts: SecAggInputParts;
      readonly report: SecAggReport;
    }
  | { readonly step: 'abort'; readonly roundId: number };

/** What the device sends in a secure round. */
export type SecureEvent = 'secagg:advertise' | 'secagg:shares' | 'secagg:masked' | 'secagg:reveal';

/** How far the device got in a round, for its own page or a test (never sent). */
export type SecureStage = 'advertised' | 'shared' | 'masked' | 'revealed' | 'aborted';

export interface SecureRoundsPorts {
  /** Bytes from a CSPRNG. */
  readonly randomBytes: (length: number) => Uint8Array;
  /** Send this to the coordinator. */
  readonly send: (roundId: number, event: SecureEvent, payload: object) => void;
  /** This device's side of the round failed and was wiped. */
  readonly fail: (roundId: number, code: string, message: string) => void;
  readonly stage?: (roundId: number, stage: SecureStage, delta: Float32Array | null) => void;
}

export class SecureRounds {
  private readonly sessions = new Map<number, SecAggSession>();

  constructor(private readonly ports: SecureRoundsPorts) {}

  /** Take one step; a failure aborts this device's side of the round and is reported, never thrown. */
  handle(req: SecureStep): void {
    const { roundId } = req;
    const send = (event: SecureEvent, payload: object | null): void => {
      if (payload) this.ports.send(roundId, event, payload);
    };
    const stage = (s: SecureStage, delta: Float32Array | null = null): void =>
      this.ports.stage?.(roundId, s, delta);
    try {
      if (req.step === 'start') {
        // One secure round at a time: a new one means the others are over for this device.
        for (const [id, old] of this.sessions) {
          old.abort();
          this.sessions.delete(id);
        }
        const session = new SecAggSession(req.taskId, roundId, req.block, this.ports.randomBytes);
        this.sessions.set(roundId, session);
        send('secagg:advertise', session.advertise());
        stage('advertised');
        return;
      }
      const session = this.sessions.get(roundId);
      if (!session) return; // a round this device already left
      switch (req.step) {
        case 'keys':
          send('secagg:shares', session.onKeys(req.msg));
          stage('shared');
          return;
        case 'deliver': {
          const masked = session.offerDelivery(req.msg);
          send('secagg:masked', masked);
          if (masked) stage('masked');
          return;
        }
        case 'input': {
          const masked = session.offerInput(req.parts.delta.length, req.parts, req.report);
          send('secagg:masked', masked);
          stage(masked ? 'masked' : 'shared', req.parts.delta);
          return;
        }
        case 'request':
          send('secagg:reveal', session.onRequest(req.msg));
          stage('revealed');
          this.sessions.delete(roundId);
          return;
        case 'abort':
          session.abort();
          this.sessions.delete(roundId);
          stage('aborted');
          return;
      }
    } catch (err) {
      const e = err as { code?: string; message?: string };
      // A stage message sent again after a reconnect, which this device had already answered:
      // the state machine refused it without changing anything, so the round goes on.
      if (e.code === 'SECAGG_STAGE' || e.code === 'REPLAY') return;
      this.sessions.get(roundId)?.abort();
      this.sessions.delete(roundId);
      stage('aborted');
      this.ports.fail(roundId, e.code ?? 'CLIENT_ERROR', e.message ?? String(err));
    }
  }
}

/** The parts of a secure round's input, as SecAggSession takes them. */
export function inputParts(
  delta: Float32Array,
  controlDelta: Float32Array | null,
  clipBit: 0 | 1 | null,
  steps: number | null,
): SecAggInputParts {
  return {
    delta,
    ...(controlDelta ? { controlDelta } : {}),
    ...(clipBit === null ? {} : { clipBit }),
    ...(steps === null ? {} : { steps }),
  };
}

/** The coordinator's stage messages, as a socket delivers them. */
export interface StageSource {
  on(event: 'secagg:keys', listener: (msg: SecAggKeysEvent) => void): unknown;
  on(event: 'secagg:deliver', listener: (msg: SecAggSharesEvent) => void): unknown;
  on(event: 'secagg:request', listener: (msg: SecAggRequestEvent) => void): unknown;
}

/** What a SocketSecureChannel lets its owner see of what it sends (a test's fault injection, say). */
export interface SecureChannelHooks {
  /** A message is about to be sent. */
  sending?(event: SecureEvent, payload: object): void;
  /** The coordinator answered it. */
  answered?(event: SecureEvent, ack: Ack): void;
}

/**
 * Send a stage message of a secure round: the masked input, the round's one large upload,
 * once its upload slot is granted (sendUpload), the others at once.
 */
export function sendStage(link: Link, event: SecureEvent, payload: object): Promise<Ack> {
  return event === 'secagg:masked'
    ? sendUpload(link, event, payload as SecAggMaskedEvent)
    : link.request(event, payload as never);
}

/**
 * Secure rounds for a client in Node (the simulation, the coordinator's test clients):
 * SecureRounds in the process, its messages sent on the Link, and the masked input's
 * acknowledgement handed to participation.
 */
export class SocketSecureChannel implements SecureChannel {
  private readonly rounds: SecureRounds;
  private readonly waiting = new Map<number, (ack: Ack) => void>();

  constructor(
    private readonly link: () => Link | null,
    randomBytes: (length: number) => Uint8Array,
    onError: (error: { readonly code: string; readonly message: string }) => void,
    private readonly hooks: SecureChannelHooks = {},
  ) {
    this.rounds = new SecureRounds({
      randomBytes,
      send: (roundId, event, payload) => void this.send(roundId, event, payload, onError),
      fail: (roundId, code, message) => {
        onError({ code, message: `secure aggregation: ${message}` });
        this.settle(roundId, { ok: false, code: 'SECAGG_ABORTED', message });
      },
    });
  }

  /** Listen to the stage messages of a connection (each new one, after a reconnection). */
  attach(source: StageSource): void {
    source.on('secagg:keys', (msg) => this.rounds.handle({ step: 'keys', roundId: msg.roundId, msg }));
    source.on('secagg:deliver', (msg) => this.rounds.handle({ step: 'deliver', roundId: msg.roundId, msg }));
    source.on('secagg:request', (msg) => this.rounds.handle({ step: 'request', roundId: msg.roundId, msg }));
  }

  start(msg: SecureRoundRef): void {
    this.rounds.handle({ step: 'start', roundId: msg.roundId, taskId: msg.taskId, block: msg.secagg! });
  }

  input(
    msg: SecureRoundRef,
    delta: Float32Array,
    controlDelta: Float32Array | null,
    clipBit: 0 | 1 | null,
    report: SecAggReport,
    steps: number | null,
  ): Promise<Ack> {
    const acked = new Promise<Ack>((resolve) => this.waiting.set(msg.roundId, resolve));
    const parts = inputParts(delta, controlDelta, clipBit, steps);
    this.rounds.handle({ step: 'input', roundId: msg.roundId, parts, report });
    return acked;
  }

  end(roundId: number): void {
    this.rounds.handle({ step: 'abort', roundId });
    this.settle(roundId, { ok: false, code: 'ROUND_CLOSED', message: `round ${roundId} ended` });
  }

  private async send(
    roundId: number,
    event: SecureEvent,
    payload: object,
    onError: (error: { readonly code: string; readonly message: string }) => void,
  ): Promise<void> {
    const link = this.link();
    if (!link) return;
    this.hooks.sending?.(event, payload);
    let ack: Ack;
    try {
      ack = await sendStage(link, event, payload);
    } catch {
      return; // the connection went: the coordinator's grace and the round's drop-out recovery take over
    }
    this.hooks.answered?.(event, ack);
    if (event === 'secagg:masked') this.settle(roundId, ack);
    else if (!ack.ok) onError({ code: ack.code, message: ack.message });
  }

  private settle(roundId: number, ack: Ack): void {
    const resolve = this.waiting.get(roundId);
    this.waiting.delete(roundId);
    resolve?.(ack);
  }
}
