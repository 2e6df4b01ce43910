import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { NodeContributor, type TestCoordinator } from '../testing/harness.ts';
import { testSession } from '../testing/session.ts';
import { JoinTokenVerifier } from './join-token.ts';

const SECRET = 'host-site-shared-secret-0123456789abcdef';
const NOW = Date.UTC(2026, 0, 1);
const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const PUBLIC_PEM = publicKey.export({ type: 'spki', format: 'pem' }).toString();

/** A join token as a host site's backend signs one: HS256 with the shared secret unless told otherwise. */
function token(
  claims: { aud?: string | string[]; expiresAt?: number; iss?: string } = {},
  key: 'secret' | 'other-secret' | 'ec' = 'secret',
): Promise<string> {
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: key === 'ec' ? 'ES256' : 'HS256' })
    .setSubject('user-42')
    .setIssuedAt(Math.floor(NOW / 1000))
    .setExpirationTime(Math.floor((claims.expiresAt ?? NOW + 600_000) / 1000));
  if (claims.aud !== undefined) jwt.setAudience(claims.aud);
  else jwt.setAudience('tiny');
  if (claims.iss) jwt.setIssuer(claims.iss);
  if (key === 'ec') return jwt.sign(privateKey);
  return jwt.sign(new TextEncoder().encode(key === 'secret' ? SECRET : `${SECRET}-forged`));
}

const code = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (e: { code?: string }) => e.code ?? 'no code',
  );

describe('join tokens', () => {
  const clock = { now: NOW };
  const verifier = new JoinTokenVerifier(
    { secret: SECRET, publicKey: PUBLIC_PEM, issuer: null },
    () => clock.now,
  );

  it('admits a token signed with the shared secret or the configured key to the tasks in its audience', async () => {
    expect(await verifier.verify(await token())).toEqual(['tiny']);
    expect(await verifier.verify(await token({ aud: ['a', 'tiny'] }, 'ec'))).toEqual(['a', 'tiny']);
  });

  it('refuses expired, forged, unsigned and wrongly issued tokens with codes', async () => {
    clock.now = NOW + 601_000 + 5_000;
    expect(await code(verifier.verify(await token()))).toBe('JOIN_TOKEN_EXPIRED');
    clock.now = NOW;
    expect(await code(verifier.verify(await token({}, 'other-secret')))).toBe('JOIN_TOKEN_INVALID');
    const body = (await token()).split('.')[1];
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${body}.`;
    expect(await code(verifier.verify(none))).toBe('JOIN_TOKEN_INVALID');
    const strict = new JoinTokenVerifier({ secret: SECRET, publicKey: null, issuer: 'https://host.example' });
    expect(await code(strict.verify(await token({ iss: 'https://evil.example' })))).toBe(
      'JOIN_TOKEN_INVALID',
    );
    expect(await code(strict.verify(await token({}, 'ec')))).toBe('JOIN_TOKEN_INVALID');
    const unconfigured = new JoinTokenVerifier({ secret: null, publicKey: null, issuer: null });
    expect(await code(unconfigured.verify(await token()))).toBe('JOIN_TOKEN_INVALID');
  });
});

describe('a task that requires a join token', () => {
  let coordinator: TestCoordinator | undefined;
  const session = testSession();

  /** A contributor presenting this token (none when undefined): how its handshake and hello went. */
  async function attempt(id: string, joinToken?: string): Promise<string> {
    const c = new NodeContributor(coordinator!.url, id, undefined, null, joinToken ? { joinToken } : {});
    session.clients.push(c);
    const connected = await c.connected();
    if (!connected.ok) return connected.code;
    const hello = await c.hello();
    return hello.ok ? 'admitted' : hello.code;
  }

  it('refuses a missing, expired, forged and wrong-task token with codes and admits a good one', async () => {
    coordinator = await session.start({ admission: { joinToken: true } }, undefined, {
      admission: { joinTokenSecret: SECRET },
    });
    const now = Date.now();
    const fresh = (claims: Parameters<typeof token>[0] = {}, key?: Parameters<typeof token>[1]) =>
      token({ expiresAt: now + 600_000, ...claims }, key);
    expect(await attempt('client-none')).toBe('JOIN_TOKEN_REQUIRED');
    expect(await attempt('client-late', await token({ expiresAt: now - 60_000 }))).toBe('JOIN_TOKEN_EXPIRED');
    expect(await attempt('client-forged', await fresh({}, 'other-secret'))).toBe('JOIN_TOKEN_INVALID');
    expect(await attempt('client-elsewhere', await fresh({ aud: 'another-task' }))).toBe(
      'JOIN_TOKEN_WRONG_TASK',
    );
    expect(await attempt('client-member', await fresh())).toBe('admitted');
    expect(coordinator.engine.population.counts('tiny').total).toBe(1);
  });
});
