import { specSize } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { NodeContributor, OPERATOR_HEADERS, type TestCoordinator, waitFor } from '../testing/harness.ts';
import { testSession } from '../testing/session.ts';

let coordinator: TestCoordinator | undefined;
const session = testSession();
const { clients } = session;

/** FedBuff: K = 2 updates per version, 4 clients holding the model at once, tau_max = 1. */
const buffered = {
  rounds: {
    mode: 'buffered',
    cohortSize: 2,
    minReports: 1,
    minClients: 1,
    overSelection: 1,
    bufferSize: 2,
    concurrency: 4,
    deadlineMs: 20_000,
    maxRounds: 0,
  },
  strategy: { staleness: { exponent: 0.5, maxStaleness: 1 } },
};

function contributor(id: string, examples = 10): { c: NodeContributor; hello: () => Promise<unknown> } {
  const c = new NodeContributor(coordinator!.url, id);
  clients.push(c);
  return { c, hello: () => c.hello('tiny', examples) };
}

const code = (ack: { ok: boolean; code?: string }): string => (ack.ok ? 'ok' : ack.code!);

describe('buffered asynchronous rounds (FedBuff)', () => {
  it('commits every K updates, each weighted by its own staleness; a late update joins the next buffer, one past tau_max is refused', async () => {
    coordinator = await session.start(buffered);
    const d = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
    const fill = (v: number): Float32Array => new Float32Array(d).fill(v);
    const [a, b, c, e] = ['client-fa', 'client-fb', 'client-fc', 'client-fd'].map((id) => contributor(id));
    const outsider = contributor('client-fo', 0);
    const handed = [a, b, c, e].map((x) => x!.c.nextRound());
    for (const x of [a, b, c, e, outsider]) await x!.hello();
    const first = await Promise.all(handed);
    // All four hold version 0, handed out in the first buffer's round.
    for (const m of first) expect(m).toMatchObject({ roundId: 1, modelVersion: 0 });
    const round1 = first[0]!;
    const v0 = (await coordinator.store.getVersion('tiny', 0))!.weights;

    // K = 2: a's and b's updates make version 1, their example-weighted mean (1 + 2) / 2.
    const aNext = a!.c.nextRound();
    expect(code(await a!.c.send(round1, fill(1)))).toBe('ok');
    expect(code(await b!.c.send(round1, fill(2)))).toBe('ok');
    await waitFor(async () => (await coordinator!.store.getTask('tiny'))!.currentVersion === 1);
    // a is handed the new model in the next buffer's round.
    const round2 = await aNext;
    expect(round2).toMatchObject({ roundId: 2, modelVersion: 1 });

    // Refused: a replay, a client that holds no model, an update for a round it is not in.
    expect(code(await b!.c.send(round1, fill(2)))).toBe('REPLAY');
    expect(code(await outsider.c.send(round1, fill(1)))).toBe('NOT_IN_ROUND');
    expect(code(await c!.c.send(round2, fill(1)))).toBe('NOT_IN_ROUND');

    // c still holds version 0 from the closed first round: its update joins the second buffer
    // with weight s(1) = 2^-1/2; a's is fresh. Version 2 = v1 + (s(1) * 4 + 1) / 2.
    expect(code(await c!.c.send(round1, fill(4)))).toBe('ok');
    expect(code(await a!.c.send(round2, fill(1)))).toBe('ok');
    await waitFor(async () => (await coordinator!.store.getTask('tiny'))!.currentVersion === 2);

    // e's update, trained on version 0, is now 2 versions behind: past tau_max = 1.
    expect(code(await e!.c.send(round1, fill(1)))).toBe('STALE_MODEL');

    const v1 = (await coordinator.store.getVersion('tiny', 1))!.weights;
    const v2 = (await coordinator.store.getVersion('tiny', 2))!.weights;
    for (let i = 0; i < d; i += 5) {
      expect(v1[i]).toBeCloseTo(v0[i]! + 1.5, 5);
      expect(v2[i]).toBeCloseTo(v1[i]! + (Math.SQRT1_2 * 4 + 1) / 2, 5);
    }
    const rounds = await coordinator.store.listRounds('tiny');
    expect(rounds[0]).toMatchObject({
      roundId: 1,
      mode: 'buffered',
      status: 'committed',
      newVersion: 1,
      reported: 2,
      selected: 4,
      staleness: { tau: 0, weight: 1, byTau: { '0': 2 } },
    });
    expect(rounds[1]).toMatchObject({ roundId: 2, status: 'committed', newVersion: 2, reported: 2 });
    expect(rounds[1]!.staleness).toMatchObject({ tau: 1, byTau: { '0': 1, '1': 1 } });
    expect(rounds[1]!.staleness!.weight).toBeCloseTo((1 + Math.SQRT1_2) / 2, 12);
    expect(rounds[1]!.aggregationMs).toEqual(expect.any(Number));
    expect(Number.isFinite(rounds[1]!.aggregationMs)).toBe(true);

    // b still holds a model: the third buffer is open. Stopping the task abandons it, unapplied.
    const stop = await coordinator.app.inject({
      method: 'POST',
      url: '/api/tasks/tiny/stop',
      headers: OPERATOR_HEADERS,
    });
    expect(stop.statusCode).toBe(200);
    const third = await waitFor(async () =>
      (await coordinator!.store.listRounds('tiny')).find((r) => r.roundId === 3 && r.status !== 'open'),
    );
    expect(third).toMatchObject({ mode: 'buffered', status: 'abandoned', reason: 'coordinator stopped' });
    expect((await coordinator.store.getTask('tiny'))!.currentVersion).toBe(2);
  });

  it('refuses configurations buffered mode cannot run, and a change of mode', async () => {
    coordinator = await session.start();
    const post = (body: Record<string, unknown>) =>
      coordinator!.app.inject({
        method: 'POST',
        url: '/api/tasks',
        headers: OPERATOR_HEADERS,
        payload: body,
      });
    const base = { id: 'fedbuff', model: { kind: 'mlp', hidden: [4] } };
    const rounds = { ...buffered.rounds };
    const refused: [Record<string, unknown>, RegExp][] = [
      [{ rounds, strategy: { robust: { kind: 'median' } } }, /robust aggregation "median"/],
      [
        { rounds: { ...rounds, minClients: 3, cohortSize: 3 }, secureAggregation: true },
        /secure aggregation reveals only the sum/,
      ],
      [{ rounds, strategy: { scaffold: true } }, /SCAFFOLD/],
      [
        {
          rounds,
          privacy: { mode: 'distributed', clipNorm: 1, noiseMultiplier: 1, delta: 1e-5, epsilonBudget: 10 },
        },
        /could not be accounted/,
      ],
      [
        { rounds: { ...rounds, bufferSize: 5 } },
        /bufferSize" \(5\) cannot exceed "rounds.concurrency" \(4\)/,
      ],
      [{ rounds: { ...rounds, maxInFlight: 2 } }, /maxInFlight" applies to rounds.mode "sync"/],
      [{ rounds: { ...rounds, mode: 'sync' } }, /"rounds.bufferSize" applies to rounds.mode "buffered"/],
      [{ rounds: { ...rounds, mode: 'async' } }, /rounds.mode/],
    ];
    for (const [body, message] of refused) {
      const res = await post({ ...base, ...body });
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json()).toMatchObject({ ok: false, code: 'INVALID_TASK' });
      expect(res.json().message).toMatch(message);
    }
    expect((await post({ ...base, rounds })).statusCode).toBe(201);
    const patch = await coordinator.app.inject({
      method: 'PATCH',
      url: '/api/tasks/fedbuff',
      headers: OPERATOR_HEADERS,
      payload: { rounds: { mode: 'sync', bufferSize: 0, concurrency: 0 } },
    });
    expect(patch.statusCode).toBe(400);
    expect(patch.json().message).toMatch(/rounds.mode cannot change/);
    // K and the concurrency may change while it runs.
    const resize = await coordinator.app.inject({
      method: 'PATCH',
      url: '/api/tasks/fedbuff',
      headers: OPERATOR_HEADERS,
      payload: { rounds: { bufferSize: 3 } },
    });
    expect(resize.statusCode).toBe(200);
    expect(resize.json().spec.rounds).toMatchObject({ mode: 'buffered', bufferSize: 3, concurrency: 4 });
  });
});
