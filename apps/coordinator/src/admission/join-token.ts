import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { PollenError } from '@pollen/fl-core';
import { type JWTPayload, jwtVerify } from 'jose';

/** How join tokens are signed: a secret shared with the host site's backend, its public key, or both. */
export interface JoinTokenKeys {
  /** HMAC (HS256/384/512) secret shared with the host site's backend. */
  readonly secret: string | null;
  /** The host backend's public key (PEM, SPKI) for RS256, PS256, ES256, ES384 or EdDSA tokens. */
  readonly publicKey: string | null;
  /** When set, tokens must carry this `iss`. */
  readonly issuer: string | null;
}

const HMAC_ALGS = ['HS256', 'HS384', 'HS512'];
const PUBLIC_KEY_ALGS = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'];
/** Leeway for the host's clock against ours, on exp and nbf (RFC 7519 section 4.1.4). */
const CLOCK_TOLERANCE_S = 5;

/**
 * Checks join tokens (RFC 7519 JWTs, verified by `jose`): signed by a configured key, not
 * expired (`exp` is required: a token is short-lived), issued by the configured issuer. The
 * audience (`aud`) names the task ids the token admits to; the hello checks it against its task.
 * Codes: JOIN_TOKEN_EXPIRED, JOIN_TOKEN_INVALID (forged, malformed, wrong key or issuer).
 */
export class JoinTokenVerifier {
  private readonly secret: KeyObject | null;
  private readonly publicKey: KeyObject | null;

  constructor(
    private readonly keys: JoinTokenKeys,
    private readonly now: () => number = Date.now,
  ) {
    this.secret = keys.secret ? createSecretKey(Buffer.from(keys.secret, 'utf8')) : null;
    this.publicKey = keys.publicKey ? createPublicKey(keys.publicKey) : null;
  }

  /** Whether any key is configured; without one, every join token is refused. */
  get configured(): boolean {
    return this.secret !== null || this.publicKey !== null;
  }

  /** Verify a token; returns the task ids it admits to. */
  async verify(token: string): Promise<readonly string[]> {
    const algorithms = [...(this.secret ? HMAC_ALGS : []), ...(this.publicKey ? PUBLIC_KEY_ALGS : [])];
    if (algorithms.length === 0) {
      throw new PollenError('JOIN_TOKEN_INVALID', 'this coordinator has no join-token key configured');
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(
        token,
        // The header's alg picks the key; `algorithms` already refused any other alg.
        (header) => (header.alg.startsWith('HS') ? this.secret : this.publicKey) as KeyObject,
        {
          algorithms,
          requiredClaims: ['exp', 'aud'],
          currentDate: new Date(this.now()),
          clockTolerance: CLOCK_TOLERANCE_S,
          ...(this.keys.issuer ? { issuer: this.keys.issuer } : {}),
        },
      ));
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ERR_JWT_EXPIRED')
        throw new PollenError('JOIN_TOKEN_EXPIRED', 'the join token has expired');
      const why = err instanceof Error ? err.message : String(err);
      throw new PollenError('JOIN_TOKEN_INVALID', `the join token is not valid: ${why}`);
    }
    return typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
  }
}
