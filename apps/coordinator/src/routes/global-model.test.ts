import { specSize } from '@pollen/fl-core';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { NodeContributor, OPERATOR_HEADERS, waitFor } from '../testing/harness.ts';
import { testSession } from '../testing/session.ts';
import { JOIN_TOKEN_HEADER } from './global-model.ts';

const SECRET = 'host-site-shared-secret-0123456789abcdef';
const session = testSession();
const oneRound = {
  rounds: { cohortSize: 1, minReports: 1, minClients: 1, overSelection: 1, deadlineMs: 10_000, maxRounds: 1 },
};

function token(aud: string, secret = SECRET): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setAudience(aud)
    .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
    .sign(new TextEncoder().encode(secret));
}

describe('GET /api/tasks/:id/global', () => {
  it('serves the current weights with their version, 304 while it holds, and the next once it commits', async () => {
    const coordinator = await session.start(oneRound);
    const get = (headers: Record<string, string> = {}) =>
      coordinator.app.inject({ url: '/api/tasks/tiny/global', headers });
    const first = await get();
    expect(first.statusCode).toBe(200);
    expect(first.headers['x-pollen-version']).toBe('0');
    expect(first.headers.etag).toBe('"v0"');
    const v0 = (await coordinator.store.getVersion('tiny', 0))!.weights;
    expect(new Float32Array(new Uint8Array(first.rawPayload).buffer)).toEqual(v0);
    expect((await get({ 'if-none-match': '"v0"' })).statusCode).toBe(304);

    const d = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
    const client = new NodeContributor(coordinator.url, 'client-g', () => new Float32Array(d).fill(0.01));
    session.clients.push(client);
    await client.hello();
    await waitFor(async () => (await coordinator.store.getTask('tiny'))!.currentVersion === 1, 20_000);
    const next = await get({ 'if-none-match': '"v0"' });
    expect(next.statusCode).toBe(200);
    expect(next.headers['x-pollen-version']).toBe('1');
    expect(new Float32Array(new Uint8Array(next.rawPayload).buffer)).toEqual(
      (await coordinator.store.getVersion('tiny', 1))!.weights,
    );
    expect((await coordinator.app.inject('/api/tasks/nope/global')).json()).toMatchObject({
      code: 'UNKNOWN_TASK',
    });
    // A frozen base exists only for a task that fine-tunes part of its model.
    const noBase = await coordinator.app.inject('/api/tasks/tiny/base');
    expect(noBase.statusCode).toBe(404);
    expect(noBase.json()).toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining('no frozen base'),
    });
    expect((await coordinator.app.inject('/api/tasks/nope/base')).json()).toMatchObject({
      code: 'UNKNOWN_TASK',
    });
    // Evaluation rounds: a bad query is refused before any work.
    for (const latest of ['0', '1001', 'x']) {
      const bad = await coordinator.app.inject({
        url: `/api/tasks/tiny/evaluations?latest=${latest}`,
        headers: OPERATOR_HEADERS,
      });
      expect(bad.statusCode, latest).toBe(400);
      expect(bad.json()).toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
  });

  it('serves a task that requires a join token only to a holder of one that names it', async () => {
    const coordinator = await session.start({ admission: { joinToken: true } }, undefined, {
      admission: { joinTokenSecret: SECRET },
    });
    const get = async (headers: Record<string, string> = {}) => {
      const res = await coordinator.app.inject({ url: '/api/tasks/tiny/global', headers });
      return res.statusCode === 200 ? 'ok' : `${res.statusCode} ${res.json<{ code: string }>().code}`;
    };
    expect(await get()).toBe('401 JOIN_TOKEN_REQUIRED');
    expect(await get({ [JOIN_TOKEN_HEADER]: 'not a jwt' })).toBe('401 JOIN_TOKEN_INVALID');
    expect(await get({ [JOIN_TOKEN_HEADER]: await token('tiny', `${SECRET}-forged`) })).toBe(
      '401 JOIN_TOKEN_INVALID',
    );
    expect(await get({ [JOIN_TOKEN_HEADER]: await token('another-task') })).toBe('403 JOIN_TOKEN_WRONG_TASK');
    expect(await get({ [JOIN_TOKEN_HEADER]: await token('tiny') })).toBe('ok');
  });
});
