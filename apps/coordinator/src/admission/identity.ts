import { createHash, timingSafeEqual } from 'node:crypto';
import {
  CLIENT_ID_PATTERN,
  CLIENT_SECRET_PATTERN,
  type ContributorAuth,
  expectObject,
  expectString,
  PollenError,
} from '@pollen/fl-core';
import type { Store } from '../store/types.ts';

/** A join token is a compact JWS: three base64url parts, bounded so a huge one costs nothing. */
const JOIN_TOKEN_PATTERN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const MAX_JOIN_TOKEN_CHARS = 4096;

/** Check the handshake's `auth` of a contributor connection. Throws UNAUTHORIZED naming the field. */
export function parseContributorAuth(input: unknown): ContributorAuth {
  if (
    input === undefined ||
    input === null ||
    (typeof input === 'object' && Object.keys(input).length === 0)
  ) {
    throw new PollenError('UNAUTHORIZED', 'the handshake must carry auth: { clientId, secret }');
  }
  const auth = expectObject('auth', input, 'UNAUTHORIZED');
  const clientId = expectString('auth.clientId', auth.clientId, 64, CLIENT_ID_PATTERN, 'UNAUTHORIZED');
  // Checked without echoing the value: error messages and logs never carry a secret.
  const secret = auth.secret;
  if (typeof secret !== 'string' || !CLIENT_SECRET_PATTERN.test(secret)) {
    throw new PollenError(
      'UNAUTHORIZED',
      `"auth.secret" expected a string matching ${CLIENT_SECRET_PATTERN}`,
    );
  }
  if (auth.joinToken === undefined) return { clientId, secret };
  const joinToken = auth.joinToken;
  if (
    typeof joinToken !== 'string' ||
    joinToken.length > MAX_JOIN_TOKEN_CHARS ||
    !JOIN_TOKEN_PATTERN.test(joinToken)
  ) {
    throw new PollenError(
      'JOIN_TOKEN_INVALID',
      `"auth.joinToken" expected a compact JWT of at most ${MAX_JOIN_TOKEN_CHARS} characters`,
    );
  }
  return { clientId, secret, joinToken };
}

/**
 * The stored form of a device's secret. The secret is 128+ random bits made by the device, not
 * a password a person chose, so one SHA-256 is enough: nothing is left to guess from the hash.
 */
export function secretHash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/**
 * Bind the client id to its secret on first sight, or check the secret against the bound one.
 * A known id with another secret is refused with IDENTITY_MISMATCH: the device holding the id
 * keeps its connection and its place in any round.
 */
export async function proveIdentity(store: Store, auth: ContributorAuth): Promise<void> {
  const given = secretHash(auth.secret);
  const bound = await store.claimClient(auth.clientId, given);
  const a = Buffer.from(bound, 'hex');
  const b = Buffer.from(given, 'hex');
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new PollenError('IDENTITY_MISMATCH', `client id "${auth.clientId}" belongs to another device`);
  }
}
