import { PROTOCOL_VERSION, specSize } from '@pollen/fl-core';
import { io } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { contributorAuth, NodeContributor, type TestCoordinator, waitFor } from '../testing/harness.ts';
import { testSession } from '../testing/session.ts';

let coordinator: TestCoordinator | undefined;
const session = testSession();
const { clients } = session;

function contributor(
  id: string,
  respond?: ConstructorParameters<typeof NodeContributor>[2],
  auth: ConstructorParameters<typeof NodeContributor>[4] = {},
): NodeContributor {
  const c = new NodeContributor(coordinator!.url, id, respond, null, auth);
  clients.push(c);
  return c;
}

const task = {
  rounds: { cohortSize: 1, minReports: 1, minClients: 1, overSelection: 1, deadlineMs: 30_000, maxRounds: 1 },
};

describe('contributor identity in the handshake', () => {
  it('refuses another device naming a known client id, and the real device keeps its place mid-round', async () => {
    coordinator = await session.start(task);
    const d = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
    const real = contributor('client-real');
    const started = real.nextRound();
    expect((await real.hello()).ok).toBe(true);
    const round = await started;

    const impostor = contributor('client-real', undefined, {
      secret: 'someone-elses-secret-0123456789',
    });
    expect(await impostor.connected()).toEqual({ ok: false, code: 'IDENTITY_MISMATCH' });
    expect(real.socket.connected).toBe(true);
    expect(coordinator.engine.population.byClientId('client-real')?.activeRound).toBe(round.roundId);

    const ack = await real.send(round, new Float32Array(d).fill(0.01));
    expect(ack).toMatchObject({ ok: true, roundId: round.roundId });
    const record = await waitFor(async () =>
      (await coordinator!.store.listRounds('tiny')).find((r) => r.status !== 'open'),
    );
    expect(record).toMatchObject({ status: 'committed', reported: 1 });
  });

  it('lets the device that holds the secret reconnect on a new socket (a reload) in its place', async () => {
    coordinator = await session.start(task);
    const first = contributor('client-reload');
    const started = first.nextRound();
    await first.hello();
    const round = await started;
    const again = contributor('client-reload');
    expect(await again.hello()).toMatchObject({ ok: true, activeRound: round.roundId });
    await waitFor(() => !first.socket.connected);
  });

  it('refuses a handshake without auth, with a malformed id or secret, and a hello naming another id', async () => {
    coordinator = await session.start(task);
    const refusal = async (auth: unknown): Promise<string> => {
      const socket = io(coordinator!.url, {
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        ...(auth === undefined ? {} : { auth: auth as object }),
      });
      try {
        return await new Promise<string>((resolve) => {
          socket.once('connect', () => resolve('connected'));
          socket.once('connect_error', (err) =>
            resolve(String((err as { data?: { code?: string } }).data?.code)),
          );
        });
      } finally {
        socket.close();
      }
    };
    expect(await refusal(undefined)).toBe('UNAUTHORIZED');
    expect(await refusal({ clientId: 'client-x1', secret: 'short' })).toBe('UNAUTHORIZED');
    expect(await refusal({ clientId: 'bad id!', secret: contributorAuth('x').secret })).toBe('UNAUTHORIZED');
    expect(await refusal({ ...contributorAuth('client-x2'), joinToken: 'not-a-jwt' })).toBe(
      'JOIN_TOKEN_INVALID',
    );
    expect(await refusal(contributorAuth('client-x3'))).toBe('connected');

    const c = contributor('client-who');
    const reply = await c.socket.emitWithAck('hello', {
      protocolVersion: PROTOCOL_VERSION,
      clientId: 'client-someone-else',
      taskId: 'tiny',
      backend: 'cpu',
      numExamples: 10,
      eligible: true,
    });
    expect(reply).toMatchObject({ ok: false, code: 'IDENTITY_MISMATCH' });
    expect(coordinator.engine.population.byClientId('client-someone-else')).toBeUndefined();
  });
});
