import { decodeDense, encodeDense, encodeModelDelta } from '@pollen/compression';
import {
  type Ack,
  PROTOCOL_VERSION,
  type RoundModelReply,
  type RoundStartMessage,
  specSize,
  toBytes,
} from '@pollen/fl-core';
import { startBytes } from '@pollen/participation';
import { describe, expect, it } from 'vitest';
import { NodeContributor, type TestCoordinator, waitFor } from '../testing/harness.ts';
import { testSession } from '../testing/session.ts';
import { modelChecksum } from './broadcast.ts';

// Compressed downloads end to end: a real coordinator on 127.0.0.1:0 with a SQLite file, and
// contributors running @pollen/participation over real Socket.io, keeping their model in memory.

const session = testSession();
const clients = session.clients;
let coordinator: TestCoordinator | undefined;

const DELTA = { kind: 'delta', bits: 8, fraction: 1, keep: 8 } as const;

function rounds(n: number, maxRounds: number, minReports = n) {
  return { cohortSize: n, minReports, minClients: n, overSelection: 1, deadlineMs: 20_000, maxRounds };
}

/** Client i's update: distinct per client and coordinate. */
function deltaOf(i: number, d: number): Float32Array {
  return Float32Array.from({ length: d }, (_, j) => 0.05 * Math.sin(1 + i * 7.3 + j * 0.37));
}

const weights = async (version: number): Promise<Float32Array> =>
  (await coordinator!.store.getVersion('tiny', version))!.weights;

const completed = (): Promise<unknown> =>
  waitFor(async () => (await coordinator!.store.getTask('tiny'))!.status === 'completed', 30_000);

/** Largest |v_{version} - v_{version-1} - mean(deltas)|: the true model moves by the clients' mean. */
async function stepError(version: number, deltas: Float32Array[]): Promise<number> {
  const [before, after] = [await weights(version - 1), await weights(version)];
  let worst = 0;
  for (let j = 0; j < before.length; j++) {
    const mean = deltas.reduce((s, d) => s + d[j]!, 0) / deltas.length;
    worst = Math.max(worst, Math.abs(after[j]! - before[j]! - mean));
  }
  return worst;
}

describe('compressed downloads', () => {
  it('sends deltas to devices that hold the last model, the whole model to one that lost or corrupted it, and counts bytes per client', async () => {
    coordinator = await session.start({ rounds: rounds(3, 3), compression: { download: DELTA } });
    const d = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
    const trained = new Map<string, Map<number, Float32Array>>();
    const make = (i: number) => {
      const id = `client-dl${i}`;
      trained.set(id, new Map());
      const c: NodeContributor = new NodeContributor(coordinator!.url, id, (global, msg) => {
        trained.get(id)!.set(msg.modelVersion, Float32Array.from(global));
        if (msg.modelVersion === 0) {
          // Client 2 loses its kept model; client 3's is corrupted under the same checksum.
          if (i === 2) c.models.models.clear();
          if (i === 3) c.models.models.get('tiny')!.weights[0]! += 1;
        }
        return deltaOf(i, d);
      });
      return c;
    };
    clients.push(make(1), make(2), make(3));
    for (const c of clients) expect((await c.hello()).ok).toBe(true);
    await completed();

    const dense = 32 + 4 * d;
    for (const c of clients) {
      const [first, second, third] = c.rounds as [RoundStartMessage, RoundStartMessage, RoundStartMessage];
      // Round 1: nobody holds a model yet: the whole one, as a dense f32 frame with its checksum.
      expect(toBytes(first.weights!).byteLength).toBe(dense);
      expect(first.modelChecksum).toBe(modelChecksum(await weights(0)));
      // Later rounds: the delta from the version the coordinator last sent, no weights.
      expect(second.weights).toBeUndefined();
      expect(second.download).toMatchObject({ from: 0, checksum: expect.any(String) });
      expect(second.download!.frames).toHaveLength(1);
      expect(third.download).toMatchObject({ from: 1 });
      expect(startBytes(second)).toBeLessThan(dense / 3);
    }
    // What every device trained on in round 2 is ŵ_1 = ŵ_0 + decode(encode(w_1 - ŵ_0)), bit for bit.
    const hat1 = encodeModelDelta(await weights(1), await weights(0), DELTA).reconstructed;
    for (const id of ['client-dl1', 'client-dl2', 'client-dl3']) {
      expect(trained.get(id)!.get(1)).toEqual(hat1);
      expect(trained.get(id)!.get(0)).toEqual(await weights(0));
    }
    expect(modelChecksum(hat1)).toBe(clients[0]!.rounds[1]!.download!.checksum);
    // The lost and the corrupted model were discarded and the round's whole model asked for.
    expect(clients[0]!.refetched).toEqual([]);
    for (const c of clients.slice(1)) {
      expect(c.refetched).toEqual([{ roundId: clients[0]!.rounds[1]!.roundId, bytes: dense }]);
      expect(c.acks.every((a) => a.ok)).toBe(true);
    }
    expect(clients.every((c) => c.models.models.get('tiny')?.version === 2)).toBe(true);
    // The true model moves by the clients' mean, whatever model they trained from.
    for (const v of [1, 2, 3])
      expect(
        await stepError(
          v,
          clients.map((_, i) => deltaOf(i + 1, d)),
        ),
      ).toBeLessThan(1e-6);
    // Bytes down: what each client was actually sent, its whole-model requests included.
    const records = (await coordinator.store.listRounds('tiny')).sort((a, b) => a.roundId - b.roundId);
    for (const [r, record] of records.entries()) {
      const sent = clients.reduce(
        (sum, c) =>
          sum +
          startBytes(c.rounds[r]!) +
          c.refetched.filter((x) => x.roundId === record.roundId).reduce((s, x) => s + x.bytes, 0),
        0,
      );
      expect(record.bytesDown).toBe(sent);
    }
    expect(records[2]!.bytesDown).toBeLessThan(records[0]!.bytesDown / 3);
  });

  it('answers round:model only for a round the client is in, once, and refuses bad input with codes', async () => {
    coordinator = await session.start({
      rounds: rounds(1, 1, 1),
      compression: { download: DELTA },
    });
    const a = new NodeContributor(coordinator.url, 'client-ask1');
    clients.push(a);
    const selected = a.nextRound();
    expect((await a.hello()).ok).toBe(true);
    const msg = await selected;
    const ask = (c: NodeContributor, body: unknown) =>
      c.socket.emitWithAck('round:model', body as never) as Promise<Ack<RoundModelReply>>;

    const reply = await ask(a, { taskId: 'tiny', roundId: msg.roundId });
    if (!reply.ok) throw new Error(reply.message);
    expect(reply.checksum).toBe(msg.modelChecksum);
    expect(modelChecksum(decodeDense(toBytes(reply.weights)).vector)).toBe(msg.modelChecksum);
    expect(await ask(a, { taskId: 'tiny', roundId: msg.roundId })).toMatchObject({
      ok: false,
      code: 'REPLAY',
    });
    expect(await ask(a, { taskId: 'tiny', roundId: msg.roundId + 1 })).toMatchObject({
      ok: false,
      code: 'ROUND_CLOSED',
    });
    expect(await ask(a, { taskId: 'other', roundId: msg.roundId })).toMatchObject({
      ok: false,
      code: 'NOT_IN_ROUND',
    });
    for (const bad of [
      null,
      { taskId: 'tiny' },
      { taskId: 'tiny', roundId: 'x' },
      { taskId: 'tiny', roundId: 0 },
    ]) {
      expect(await ask(a, bad)).toMatchObject({ ok: false, code: 'INVALID_MESSAGE' });
    }
    // A client of the task that is not in the round.
    const b = new NodeContributor(coordinator.url, 'client-ask2');
    clients.push(b);
    expect((await b.hello()).ok).toBe(true);
    expect(await ask(b, { taskId: 'tiny', roundId: msg.roundId })).toMatchObject({
      ok: false,
      code: 'NOT_IN_ROUND',
    });
    // A hello naming a model that is not one.
    for (const model of [{ version: -1, checksum: 'a'.repeat(64) }, { version: 1, checksum: 'xyz' }, 'v1']) {
      const c = new NodeContributor(coordinator.url, `client-bad-${clients.length}`);
      clients.push(c);
      await c.connected();
      const hello = {
        protocolVersion: PROTOCOL_VERSION,
        clientId: c.clientId,
        taskId: 'tiny',
        backend: 'cpu',
        numExamples: 1,
        eligible: true,
        model,
      };
      expect(await c.socket.emitWithAck('hello', hello as never)).toMatchObject({
        ok: false,
        code: 'INVALID_MESSAGE',
      });
    }
    // The round's whole model, counted in its bytes down.
    await a.send(msg, new Float32Array(specSize((await coordinator.store.getTask('tiny'))!.weightSpec)));
    await completed();
    const [record] = await coordinator.store.listRounds('tiny');
    expect(record!.bytesDown).toBe(startBytes(msg) + toBytes(reply.weights).byteLength);
  });

  it('answers round:model in a task that downloads dense models with INVALID_MESSAGE', async () => {
    coordinator = await session.start({ rounds: rounds(1, 1, 1) });
    const a = new NodeContributor(coordinator.url, 'client-dense1');
    clients.push(a);
    const selected = a.nextRound();
    await a.hello();
    const msg = await selected;
    expect(msg.modelChecksum).toBeUndefined();
    const reply = await a.socket.emitWithAck('round:model', { taskId: 'tiny', roundId: msg.roundId });
    expect(reply).toMatchObject({ ok: false, code: 'INVALID_MESSAGE' });
  });

  it('unmasks secure rounds exactly: every client of a round holds the same broadcast model', async () => {
    coordinator = await session.start({
      rounds: rounds(5, 2),
      secureAggregation: { range: 1, stageMs: 15_000 },
      compression: { download: DELTA },
    });
    const d = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
    const globals = new Map<number, Float32Array[]>();
    const deltas = Array.from({ length: 5 }, (_, i) => deltaOf(i, d));
    for (let i = 0; i < 5; i++) {
      const c = new NodeContributor(coordinator.url, `secure-dl-${i}`, (global, msg) => {
        globals.set(msg.modelVersion, [...(globals.get(msg.modelVersion) ?? []), Float32Array.from(global)]);
        return deltas[i]!;
      });
      clients.push(c);
      await c.hello();
    }
    await completed();
    expect(clients.every((c) => c.rounds[1]?.download?.from === 0)).toBe(true);
    const second = globals.get(1)!;
    expect(second).toHaveLength(5);
    for (const g of second) expect(g).toEqual(second[0]);
    // Fixed point at 24 bits over range 1, as secagg-round.test.ts bounds it.
    expect(await stepError(1, deltas)).toBeLessThan(1e-6);
    expect(await stepError(2, deltas)).toBeLessThan(1e-6);
    expect(encodeDense(second[0]!, 'f32')).not.toEqual(encodeDense(await weights(1), 'f32'));
  });
});
