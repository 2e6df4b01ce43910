import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PollenError } from '@pollen/fl-core';
import type { FastifyRequest } from 'fastify';

const digest = (token: string): Buffer => createHash('sha256').update(token).digest();

/** What an operator token may look like: printable ASCII without spaces, at most 512 characters. */
const TOKEN_PATTERN = /^[\x21-\x7e]{1,512}$/;

/**
 * A check of a presented operator token against the configured ones, shared by the REST guard
 * and the dashboard's Socket.io namespace. Tokens are compared as SHA-256 digests in constant
 * time; with no token configured, every token is refused. Throws UNAUTHORIZED.
 */
export function operatorTokenCheck(tokens: readonly string[]): (token: unknown) => void {
  const allowed = tokens.map(digest);
  return (token) => {
    if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) {
      throw new PollenError('UNAUTHORIZED', 'operator token required');
    }
    const given = digest(token);
    if (!allowed.some((t) => timingSafeEqual(t, given))) {
      throw new PollenError('UNAUTHORIZED', 'operator token not recognised');
    }
  };
}

/** A check of `Authorization: Bearer <token>` against the configured operator tokens. */
export function operatorGuard(tokens: readonly string[]): (req: FastifyRequest) => Promise<void> {
  const check = operatorTokenCheck(tokens);
  return async (req) => {
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer (\S+)$/.exec(header) : null;
    if (!match)
      throw new PollenError('UNAUTHORIZED', 'operator token required (Authorization: Bearer <token>)');
    check(match[1]);
  };
}

/**
 * The operator token of a data directory: made once (32 random bytes, hex), kept in
 * DATA_DIR/operator-token readable by the owner only, so `npm start` works with nothing to
 * configure and the token survives restarts.
 */
export function dataDirToken(dataDir: string): string {
  const file = join(dataDir, 'operator-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const token = randomBytes(32).toString('hex');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}
