import { PollenError, toPollenError } from '@pollen/fl-core';
import type { FastifyBaseLogger } from 'fastify';
import type { PollenSocket } from '../socket.ts';
import type { Store } from '../store/types.ts';
import type { AddressLimits } from './address-limits.ts';
import { parseContributorAuth, proveIdentity } from './identity.ts';
import type { JoinTokenVerifier } from './join-token.ts';

/** What the handshake proved about a contributor connection (`socket.data`). */
export interface ContributorSocketData {
  /** The client id whose secret this connection presented. */
  clientId: string;
  /** The remote address the per-address limits counted it under. */
  address: string;
  /** The task ids the connection's join token admits to; null when it presented none. */
  admitted: readonly string[] | null;
}

export interface HandshakeDeps {
  readonly store: Store;
  readonly limits: AddressLimits;
  readonly tokens: JoinTokenVerifier;
  readonly log: FastifyBaseLogger;
}

/**
 * The contributor namespace's handshake (`io.use`): per-address limits first (no work for an
 * address over them), then the auth block, the join token's signature and expiry, and the
 * client id's secret. A refused connection never reaches a handler; the client's
 * `connect_error` carries `data.code`.
 */
export function contributorHandshake(
  deps: HandshakeDeps,
): (socket: PollenSocket, next: (err?: Error) => void) => void {
  return (socket, next) => {
    const address = socket.handshake.address;
    let release: (() => void) | null = null;
    const refuse = (err: unknown): void => {
      release?.();
      const e = toPollenError(err);
      if (e.code === 'INTERNAL') deps.log.error({ err }, 'contributor handshake failed');
      else deps.log.debug({ address, code: e.code }, 'contributor connection refused');
      next(Object.assign(new Error(e.message), { data: { code: e.code } }));
    };
    try {
      release = deps.limits.admit(address);
    } catch (err) {
      refuse(err);
      return;
    }
    // The slot is held until the transport closes, whether or not the socket ever connects.
    socket.conn.once('close', release);
    void (async () => {
      const auth = parseContributorAuth(socket.handshake.auth);
      const admitted = auth.joinToken === undefined ? null : await deps.tokens.verify(auth.joinToken);
      await proveIdentity(deps.store, auth);
      socket.data = { clientId: auth.clientId, address, admitted };
      next();
    })().catch(refuse);
  };
}

/**
 * Whether a connection may join a task: a task that requires a join token needs one whose
 * audience names it. Codes: JOIN_TOKEN_REQUIRED, JOIN_TOKEN_WRONG_TASK.
 */
export function checkAdmission(
  data: ContributorSocketData,
  taskId: string,
  admission: { readonly joinToken: boolean } | undefined,
): void {
  if (!admission?.joinToken) return;
  if (data.admitted === null) {
    throw new PollenError('JOIN_TOKEN_REQUIRED', `task "${taskId}" admits holders of a join token only`);
  }
  if (!data.admitted.includes(taskId)) {
    throw new PollenError('JOIN_TOKEN_WRONG_TASK', `the join token does not admit to task "${taskId}"`);
  }
}
