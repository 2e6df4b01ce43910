import type { ClientToServerEvents, ContributorAuth, ServerToClientEvents } from '@pollen/fl-core';
import { type Link, socketLink } from '@pollen/participation';
import { io, type Socket } from 'socket.io-client';

export type PollenSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Handshake refusals that pass: the address is over its limits for now. */
const TRANSIENT_REFUSALS: ReadonlySet<string> = new Set(['RATE_LIMITED', 'TOO_MANY_CONNECTIONS', 'INTERNAL']);

/** A promise with its resolver, for a moment other code waits for. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export interface ConnectionEvents {
  /** The handshake's auth: the device's id and secret, and a join token when the task needs one. */
  auth(): Promise<ContributorAuth>;
  /** Said when no auth could be made (the join token callback failed): identity alone. */
  fallbackAuth(): ContributorAuth;
  error(error: { readonly code: string; readonly message: string }): void;
  /** The coordinator refused the handshake for good (a bad identity or join token). */
  refused(): void;
  /** Connected (again): say hello. */
  connected(): void;
  disconnected(reason: string): void;
}

/**
 * The SDK's Socket.io connection to the coordinator: websocket transport, reconnecting with
 * backoff; the device's identity and join token in the handshake's `auth` (checked before any
 * message); a refusal for the address's limits retried later, spread out, any other refusal
 * final. Every message but `hello` waits for the current connection's hello to be acknowledged.
 */
export class Connection {
  readonly socket: PollenSocket;
  /** The connection as participation sends on it. */
  readonly link: Link;
  private introduced = deferred();
  private closed = false;

  constructor(base: string, events: ConnectionEvents) {
    const socket: PollenSocket = io(base, {
      auth: (send) => {
        void events.auth().then(send, (err: unknown) => {
          events.error({ code: 'CLIENT_ERROR', message: `no join token: ${(err as Error).message}` });
          send(events.fallbackAuth());
        });
      },
      transports: ['websocket'],
      reconnection: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 10_000,
    });
    this.socket = socket;
    this.link = socketLink(socket);
    this.holdUntilIntroduced();
    socket.on('connect', () => events.connected());
    socket.on('disconnect', (reason) => {
      this.introduced = deferred();
      events.disconnected(reason);
    });
    socket.on('connect_error', (err) => {
      // Refused by the handshake (a code in `data`): Socket.io does not retry on its own then.
      const code = (err as { data?: { code?: unknown } }).data?.code;
      if (typeof code !== 'string') return;
      events.error({ code, message: err.message });
      if (TRANSIENT_REFUSALS.has(code)) {
        // Too many connections from this address just now: try again later, spread out.
        setTimeout(() => this.closed || socket.connect(), 5000 + Math.random() * 5000);
      } else events.refused();
    });
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** The coordinator acknowledged this connection's hello: what waited for it goes out. */
  admitted(): void {
    this.introduced.resolve();
  }

  /** Connect afresh (a new hello, under the backend the device trains on now). */
  reconnect(): void {
    if (this.socket.connected) this.socket.disconnect().connect();
  }

  close(): void {
    this.closed = true;
    this.socket.disconnect();
  }

  /**
   * Hold back every message but `hello` until the coordinator acknowledged the hello of the
   * current connection. Socket.io sends what was emitted while disconnected before its
   * 'connect' listeners run, so an update finished during a network drop would reach the
   * coordinator ahead of the hello, from a socket it does not know yet, and be refused.
   */
  private holdUntilIntroduced(): void {
    const socket = this.socket;
    const send = socket.emitWithAck.bind(socket) as (event: string, ...args: unknown[]) => Promise<unknown>;
    socket.emitWithAck = (async (event: string, ...args: unknown[]) => {
      if (event !== 'hello') await this.introduced.promise;
      return send(event, ...args);
    }) as PollenSocket['emitWithAck'];
  }
}
