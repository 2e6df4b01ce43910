import { PROTOCOL_VERSION, specSize } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { NodeContributor, type TestCoordinator, waitFor } from '../testing/harness.ts';
import { ManualClock } from '../testing/manual-clock.ts';
import { testSession } from '../testing/session.ts';

let coordinator: TestCoordinator | undefined;
const session = testSession();
const { clients } = session;

function contributor(
  id: string,
  respond?: ConstructorParameters<typeof NodeContributor>[2],
): NodeContributor {
  const c = new NodeContributor(coordinator!.url, id, respond);
  clients.push(c);
  return c;
}

const rounds = (minClients: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  rounds: {
    cohortSize: minClients,
    minReports: 1,
    minClients,
    overSelection: 1,
    deadlineMs: 20_000,
    maxRounds: 0,
    ...extra,
  },
});

describe('round engine', () => {
  it('commits the example-weighted mean of the updates onto the global model', async () => {
    coordinator = await session.start(rounds(2));
    const d = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
    const a = contributor('client-aaaa', () => new Float32Array(d).fill(1));
    const b = contributor('client-bbbb', () => new Float32Array(d).fill(4));
    expect((await a.hello('tiny', 10)).ok).toBe(true);
    // b holds 30 examples: the mean is (10 * 1 + 30 * 4) / 40 = 3.25.
    expect((await b.hello('tiny', 30)).ok).toBe(true);
    const record = await waitFor(async () =>
      (await coordinator!.store.listRounds('tiny')).find((r) => r.status === 'committed'),
    );
    expect(record.reported).toBe(2);
    expect(record.newVersion).toBe(1);
    const v0 = (await coordinator.store.getVersion('tiny', 0))!.weights;
    const v1 = (await coordinator.store.getVersion('tiny', 1))!.weights;
    for (const i of [0, 17, d - 1]) expect(v1[i]).toBeCloseTo(v0[i]! + 3.25, 5);
    // Held-out metrics attach after the commit, when the evaluation finishes (docs/design.md).
    const evaluated = await waitFor(async () => (await coordinator!.store.listRounds('tiny'))[0]!.metrics);
    expect(evaluated.accuracy).toBeGreaterThanOrEqual(0);
    expect(record.backends).toEqual({ cpu: 2 });
    await waitFor(() => a.acks.length > 0);
    expect(a.acks[0]).toEqual({ ok: true, roundId: 1 });
  });

  it('refuses wrong-size, NaN, oversized, replayed and foreign updates with codes and keeps the model', async () => {
    // The deadline outlasts the bad messages on a loaded machine (each upload asks for its slot).
    coordinator = await session.start(rounds(3, { minReports: 2, deadlineMs: 10_000 }));
    const d = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
    const good = contributor('client-good');
    // Two senders of bad messages, so that neither runs into the per-socket rate limit.
    const bad = contributor('client-bad1');
    const malformed = contributor('client-bad2');
    const outsider = contributor('client-out1');
    await good.hello();
    await outsider.hello('tiny', 0); // no examples: never selected
    const roundStart = good.nextRound();
    await bad.hello();
    await malformed.hello();
    const msg = await roundStart;

    const codes = async (
      c: NodeContributor,
      ...args: Parameters<NodeContributor['send']>
    ): Promise<string> => {
      const ack = await c.send(...args);
      return ack.ok ? 'ok' : ack.code;
    };
    expect(await codes(bad, msg, new Float32Array(d - 1))).toBe('SHAPE_MISMATCH');
    const nan = new Float32Array(d);
    nan[5] = Number.NaN;
    expect(await codes(bad, msg, nan)).toBe('NON_FINITE');
    const inf = new Float32Array(d);
    inf[0] = Number.POSITIVE_INFINITY;
    expect(await codes(bad, msg, inf)).toBe('NON_FINITE');
    // The envelope and its size are checked before the upload slot: these need none.
    const ungranted = { ungranted: true };
    expect(await codes(malformed, msg, new Float32Array(d + 100), {}, ungranted)).toBe('PAYLOAD_TOO_LARGE');
    expect(await codes(bad, msg, new Uint8Array(64).fill(7))).toBe('BAD_FRAME');
    expect(await codes(bad, msg, new Float32Array(d).fill(1e6))).toBe('NORM_TOO_LARGE');
    expect(await codes(bad, msg, new Float32Array(d), { modelVersion: 5 })).toBe('STALE_MODEL');
    expect(await codes(bad, msg, new Float32Array(d), { roundId: 99 })).toBe('ROUND_CLOSED');
    expect(await codes(malformed, msg, new Float32Array(d), { numExamples: -3 }, ungranted)).toBe(
      'INVALID_MESSAGE',
    );
    // Named metrics: an object of finite numbers with well-formed names, `loss` among them.
    for (const metrics of [
      { loss: Number.NaN },
      { accuracy: 0.5 },
      { loss: -1 },
      { loss: 1, 'no spaces': 2 },
      Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`m${i}`, 1])),
      [1, 2],
      'loss',
    ]) {
      expect(await codes(malformed, msg, new Float32Array(d), { metrics }, ungranted)).toBe(
        'INVALID_MESSAGE',
      );
    }
    expect(await codes(malformed, msg, new Float32Array(d), { trainMs: -1 }, ungranted)).toBe(
      'INVALID_MESSAGE',
    );
    expect(await codes(malformed, msg, new Float32Array(d), { update: 'not binary' }, ungranted)).toBe(
      'INVALID_MESSAGE',
    );
    expect(await codes(outsider, msg, new Float32Array(d))).toBe('NOT_IN_ROUND');
    // Flow control: an update sent without waiting for its upload slot, a malformed slot request,
    // and a slot for a round that is not open are refused before any decoding.
    expect(await codes(good, msg, new Float32Array(d).fill(0.5), {}, { ungranted: true })).toBe(
      'NO_UPLOAD_SLOT',
    );
    const slot = (payload: unknown): Promise<{ ok: boolean; code?: string }> =>
      (
        malformed.socket as unknown as {
          emitWithAck: (e: string, p: unknown) => Promise<{ ok: boolean; code?: string }>;
        }
      ).emitWithAck('upload:slot', payload);
    expect((await slot({ taskId: 'tiny', roundId: 'one' })).code).toBe('INVALID_MESSAGE');
    expect((await slot({ taskId: 'other', roundId: msg.roundId })).code).toBe('NOT_IN_ROUND');
    expect((await slot({ taskId: 'tiny', roundId: msg.roundId + 50 })).code).toBe('ROUND_CLOSED');
    expect(await codes(good, msg, new Float32Array(d).fill(0.5))).toBe('ok');
    expect(await codes(good, msg, new Float32Array(d).fill(0.5))).toBe('REPLAY');

    // Only one valid report of the two required: the round is abandoned at its deadline.
    const record = await waitFor(
      async () => (await coordinator!.store.listRounds('tiny')).find((r) => r.status !== 'open'),
      20_000,
    );
    expect(record.status).toBe('abandoned');
    expect(record.deadlineHit).toBe(true);
    // Counted: the six refused after the envelope named this round (shape, NaN, inf, frame, norm, version).
    expect(record.rejected).toBe(6);
    const task = (await coordinator.store.getTask('tiny'))!;
    expect(task.currentVersion).toBe(0);
    expect(await coordinator.store.listVersions('tiny')).toHaveLength(1);
    // Refused uploads gave their slots back: nothing counts against the budget.
    expect(coordinator.engine.uploadSlots.inFlightBytes).toBe(0);
    // The coordinator still serves everyone.
    expect((await fetch(`${coordinator.url}/healthz`)).status).toBe(200);
  });

  it('refuses malformed hellos and messages before hello', async () => {
    coordinator = await session.start(rounds(5));
    const c = contributor('client-cccc');
    await c.hello();
    const fresh = contributor('client-dddd');
    await new Promise<void>((r) => fresh.socket.once('connect', () => r()));
    const send = (event: string, payload: unknown): Promise<{ ok: boolean; code?: string }> =>
      (
        fresh.socket as unknown as {
          emitWithAck: (e: string, p: unknown) => Promise<{ ok: boolean; code?: string }>;
        }
      ).emitWithAck(event, payload);
    expect((await send('update', { taskId: 'tiny' })).code).toBe('INVALID_MESSAGE');
    expect((await send('hello', null)).code).toBe('INVALID_MESSAGE');
    expect(
      (await send('hello', { protocolVersion: PROTOCOL_VERSION, clientId: 'x', taskId: 'tiny' })).code,
    ).toBe('INVALID_MESSAGE');
    expect(
      (
        await send('hello', {
          protocolVersion: PROTOCOL_VERSION,
          clientId: 'client-dddd',
          taskId: 'nope',
          backend: 'cpu',
          numExamples: 1,
          eligible: true,
        })
      ).code,
    ).toBe('UNKNOWN_TASK');
    expect(
      (
        await send('hello', {
          protocolVersion: PROTOCOL_VERSION,
          clientId: 'client-dddd',
          taskId: 'tiny',
          backend: 'tpu',
          numExamples: 1,
          eligible: true,
        })
      ).code,
    ).toBe('INVALID_MESSAGE');
    expect((await send('eligibility', { eligible: 'yes', numExamples: 1 })).code).toBe('INVALID_MESSAGE');
    expect(coordinator.engine.population.counts().total).toBe(1);
  });

  it('closes a round when a selected client vanishes, and at the deadline when one stays silent', async () => {
    // Time moves only when the test moves it: nothing below waits on the wall clock.
    const clock = new ManualClock();
    coordinator = await session.start(rounds(2, { deadlineMs: 1500 }), undefined, { clock });
    const d = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
    const stayer = contributor('client-stay', () => new Float32Array(d).fill(0.1));
    const leaver = contributor('client-goes');
    await stayer.hello();
    const started = leaver.nextRound();
    await leaver.hello();
    await started;
    leaver.close();
    // The clock has not moved, so the deadline cannot be what closed it.
    const first = await waitFor(async () =>
      (await coordinator!.store.listRounds('tiny')).find((r) => r.status !== 'open'),
    );
    expect(first.status).toBe('committed');
    expect(first.reported).toBe(1);
    expect(first.dropped).toBe(1);
    expect(first.deadlineHit).toBe(false);

    // A silent client is waited for until the deadline, not longer.
    const silent = contributor('client-mute');
    await silent.hello();
    const open = (): Promise<unknown> =>
      coordinator!.store
        .listRounds('tiny')
        .then((all) => all.find((r) => r.roundId > first.roundId && r.status === 'open'));
    await waitFor(open);
    await waitFor(() => stayer.acks.length === 2);
    clock.advance(1499);
    expect(await open()).toBeTruthy();
    clock.advance(1);
    const second = await waitFor(async () =>
      (await coordinator!.store.listRounds('tiny')).find(
        (r) => r.roundId > first.roundId && r.status !== 'open',
      ),
    );
    expect(second.deadlineHit).toBe(true);
    expect(second.status).toBe('committed');
  });

  it('keeps a reconnecting client id in its round', async () => {
    coordinator = await session.start(rounds(1));
    const d = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
    const first = contributor('client-same');
    const started = first.nextRound();
    await first.hello();
    const msg = await started;
    const again = contributor('client-same');
    expect((await again.hello()).ok).toBe(true);
    await waitFor(() => !first.socket.connected);
    const ack = await again.send(msg, new Float32Array(d));
    expect(ack.ok).toBe(true);
  });
});
