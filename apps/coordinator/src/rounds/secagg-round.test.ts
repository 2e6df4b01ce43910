import {
  type Ack,
  addGaussianNoise,
  chachaRandomBytes,
  clipBit,
  clipToNorm,
  generateKeyPair,
  PROTOCOL_VERSION,
  type RoundStartMessage,
  seededRng,
  specSize,
  uploadPlanFor,
} from '@pollen/fl-core';
import { io } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveTaskInput } from '../task-file.ts';
import {
  contributorAuth,
  NodeContributor,
  removeDir,
  startTestCoordinator,
  type TestCoordinator,
  waitFor,
} from '../testing/harness.ts';
import { ManualClock } from '../testing/manual-clock.ts';
import type { SecAggLeavePoint } from '../testing/secagg-client.ts';
import { parseMaskedReport } from './secagg-messages.ts';

// Secure rounds end to end in Node: a real coordinator on 127.0.0.1:0 with a SQLite file, and
// contributors running fl-core's SecAggSession over real Socket.io (testing/secagg-client.ts).

let coordinator: TestCoordinator | undefined;
const clients: NodeContributor[] = [];
const dirs: string[] = [];

const sockets: { disconnect(): unknown }[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const socket of sockets.splice(0)) socket.disconnect();
  await coordinator?.close();
  coordinator = undefined;
  for (const dir of dirs.splice(0)) removeDir(dir);
});

async function start(
  n: number,
  minReports: number,
  secureAggregation: unknown,
  clock?: ManualClock,
): Promise<TestCoordinator> {
  coordinator = await startTestCoordinator(
    {
      rounds: {
        cohortSize: n,
        minReports,
        minClients: n,
        overSelection: 1,
        deadlineMs: 20_000,
        maxRounds: 1,
      },
      secureAggregation,
    },
    undefined,
    clock ? { clock } : {},
  );
  dirs.push(coordinator.dataDir);
  return coordinator;
}

const dimension = async (): Promise<number> =>
  specSize((await coordinator!.store.getTask('tiny'))!.weightSpec);
const weights = async (version: number): Promise<Float32Array> =>
  (await coordinator!.store.getVersion('tiny', version))!.weights;
const finished = (): Promise<unknown> =>
  waitFor(async () => (await coordinator!.store.listRounds('tiny')).find((r) => r.status !== 'open'), 20_000);

/** Client i's update: distinct per client and coordinate, inside the fixed-point range. */
function deltaOf(i: number, d: number): Float32Array {
  return Float32Array.from({ length: d }, (_, j) => 0.05 * Math.sin(1 + i * 7.3 + j * 0.37));
}

function mean(vectors: Float32Array[]): Float64Array {
  const out = new Float64Array(vectors[0]!.length);
  for (const v of vectors) for (let j = 0; j < out.length; j++) out[j] = out[j]! + v[j]! / vectors.length;
  return out;
}

/** n secure contributors; `leave` maps an index to the stage after which it vanishes. */
async function cohort(n: number, leave: Record<number, SecAggLeavePoint> = {}): Promise<Float32Array[]> {
  const d = await dimension();
  const deltas = Array.from({ length: n }, (_, i) => deltaOf(i, d));
  for (let i = 0; i < n; i++) {
    const c = new NodeContributor(coordinator!.url, `secure-client-${i}`, () => deltas[i]!, leave[i] ?? null);
    clients.push(c);
    await c.hello();
  }
  return deltas;
}

/** Largest |v1 - v0 - expected|: the applied aggregate against the survivors' mean. */
async function error(expected: Float64Array): Promise<number> {
  const [v0, v1] = [await weights(0), await weights(1)];
  let worst = 0;
  for (let j = 0; j < expected.length; j++) worst = Math.max(worst, Math.abs(v1[j]! - v0[j]! - expected[j]!));
  return worst;
}

// Fixed point with range 1 at 24 bits: one client's rounding is at most 2^-24; float32 weights
// add ~1e-7 relative. 1e-6 is far below the 0.05 the updates move by.
const QUANTIZATION = 1e-6;

describe('secure aggregation rounds over Socket.io', () => {
  it('applies the mean of the updates, having seen only masked vectors', async () => {
    await start(5, 5, { range: 1, stageMs: 15_000 });
    const deltas = await cohort(5);
    const record = (await finished()) as { status: string; reported: number; newVersion: number };
    expect(record).toMatchObject({ status: 'committed', reported: 5, newVersion: 1 });
    expect(await error(mean(deltas))).toBeLessThan(QUANTIZATION);
    // What the coordinator got from client 0 is not its update in any encoding it could read.
    const masked = new Uint32Array(clients[0]!.secagg.lastMasked!.slice().buffer);
    const plain = Math.round(deltas[0]![0]! * (2 ** 23 - 1));
    expect(masked[0]).not.toBe(plain >>> 0);
    // Every message was taken, except reveals that came after the sum was already recovered
    // (t of the n survivors' shares suffice): those are refused with ROUND_CLOSED, harmlessly.
    // Whether any arrive before this check depends on timing alone.
    expect(
      clients.every((c) =>
        c.secagg.acks.every(
          ({ event, ack }) => ack.ok || (event === 'secagg:reveal' && ack.code === 'ROUND_CLOSED'),
        ),
      ),
    ).toBe(true);
  });

  it('recovers drop-outs after sharing keys and after sending the masked input', async () => {
    await start(8, 5, { range: 1, stageMs: 15_000 });
    // 2 vanish after their shares (masks removed through their keys), 1 after its masked input
    // (its input counts; its self-mask seed comes from the others' shares).
    const deltas = await cohort(8, { 1: 'shares', 4: 'shares', 6: 'masked' });
    const record = (await finished()) as { status: string; reported: number };
    expect(record).toMatchObject({ reason: null, status: 'committed', reported: 6 });
    const survivors = deltas.filter((_, i) => i !== 1 && i !== 4);
    expect(await error(mean(survivors))).toBeLessThan(QUANTIZATION);
    // Not the mean of all eight: the drop-outs are really out.
    expect(await error(mean(deltas))).toBeGreaterThan(1e-3);
  });

  it('aborts, commits nothing and asks no share, when drop-outs leave a secret below threshold', async () => {
    // k = 5 (complete graph of 6), t = 4: three drop-outs leave each sharer 2 surviving partners.
    await start(6, 2, { range: 1, stageMs: 15_000, threshold: 4 });
    await cohort(6, { 0: 'shares', 2: 'shares', 3: 'shares' });
    const record = (await finished()) as { status: string; reason: string; newVersion: number | null };
    expect(record.status).toBe('abandoned');
    expect(record.reason).toMatch(/secure aggregation aborted/);
    expect((await coordinator!.store.getTask('tiny'))!.currentVersion).toBe(0);
    expect(clients.some((c) => c.secagg.acks.some(({ event }) => event === 'secagg:reveal'))).toBe(false);
  });

  it('sends a client back from a broken connection the stage message it missed, and the round completes', async () => {
    // The clock stands still: no stage timer can fire, so only the resent keys can finish the round.
    await start(4, 4, { range: 1, stageMs: 15_000 }, new ManualClock());
    const deltas = await cohort(3);
    const d = await dimension();
    const mine = deltaOf(3, d);
    const x = new NodeContributor(coordinator!.url, 'secure-client-3', () => mine);
    clients.push(x);
    // Its neighbours' keys are lost with its connection: the transport breaks (no goodbye, so
    // the coordinator keeps its place for the grace period) and it comes back on a new socket.
    x.secagg.lose.add('secagg:keys');
    await x.hello();
    await waitFor(() => !x.secagg.lose.has('secagg:keys'));
    x.socket.io.engine.close();
    await waitFor(() => !x.socket.connected);
    const again = io(coordinator!.url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: contributorAuth('secure-client-3'),
    });
    sockets.push(again);
    x.secagg.rebind(again);
    const hello = await again.emitWithAck('hello', {
      protocolVersion: PROTOCOL_VERSION,
      clientId: 'secure-client-3',
      taskId: 'tiny',
      backend: 'cpu',
      numExamples: 10,
      eligible: true,
    });
    expect(hello).toMatchObject({ ok: true, activeRound: 1 });
    const record = (await finished()) as {
      status: string;
      reported: number;
      startedAt: number;
      endedAt: number;
    };
    expect(record).toMatchObject({ status: 'committed', reported: 4 });
    expect(await error(mean([...deltas, mine]))).toBeLessThan(QUANTIZATION);
  });

  it('aborts at the unmask stage, without waiting for its deadline, when too few survivors are left to reveal', async () => {
    // Everyone's masked input arrives, then half leave: no self-mask seed can get t = 4 shares.
    // The clock stands still: the unmask stage's timer cannot be what ends the round.
    await start(6, 2, { range: 1, stageMs: 15_000, threshold: 4 }, new ManualClock());
    await cohort(6, { 0: 'masked', 2: 'masked', 4: 'masked' });
    const record = (await finished()) as {
      status: string;
      reason: string;
      startedAt: number;
      endedAt: number;
    };
    expect(record.status).toBe('abandoned');
    expect(record.reason).toMatch(/secure aggregation aborted: .*shares of the self-mask seed/);
    expect((await coordinator!.store.getTask('tiny'))!.currentVersion).toBe(0);
  });

  it('answers malformed, oversized, out-of-stage, replayed and foreign secagg messages with codes, and carries on', async () => {
    // The clock stands still until the test moves it: the rogue's messages all land in the
    // advertise stage however slow the machine, and each stage ends when the test says (two
    // stage deadlines stay inside the round's 20 s deadline).
    const clock = new ManualClock();
    await start(6, 4, { range: 1, stageMs: 5000 }, clock);
    const deltas = await cohort(4);
    const honest = clients.slice(0, 4);
    const allSent = (event: string) => () =>
      honest.every((c) => c.secagg.acks.some((a) => a.event === event && a.ack.ok));
    // A selected client that never speaks keeps the advertise stage open until its deadline.
    const sleeper = new NodeContributor(coordinator!.url, 'secure-sleeper');
    clients.push(sleeper);
    await sleeper.hello();
    const rogue = new NodeContributor(coordinator!.url, 'secure-rogue');
    clients.push(rogue);
    const started: Promise<RoundStartMessage> = rogue.nextRound();
    await rogue.hello();
    const msg = await started;
    const { taskId, roundId } = msg;
    const send = (event: string, body: Record<string, unknown>): Promise<Ack> =>
      rogue.socket.emitWithAck(
        event as 'secagg:advertise',
        { taskId, roundId, ...body } as never,
      ) as Promise<Ack>;
    const code = async (p: Promise<Ack>): Promise<string> => {
      const ack = await p;
      return ack.ok ? 'ok' : ack.code;
    };
    const key = new Uint8Array(32).fill(9);
    expect(await code(send('secagg:advertise', { cPk: new Uint8Array(31), sPk: key }))).toBe(
      'INVALID_MESSAGE',
    );
    expect(await code(send('secagg:advertise', { cPk: 'abc', sPk: key }))).toBe('INVALID_MESSAGE');
    expect(await code(send('secagg:advertise', { roundId: 'x' }))).toBe('INVALID_MESSAGE');
    expect(await code(send('secagg:advertise', { roundId: roundId + 1, cPk: key, sPk: key }))).toBe(
      'ROUND_CLOSED',
    );
    expect(await code(send('secagg:advertise', { taskId: 'other', cPk: key, sPk: key }))).toBe(
      'NOT_IN_ROUND',
    );
    const words = msg.secagg!.words;
    const masked = {
      modelVersion: 0,
      numExamples: 1,
      backend: 'cpu',
      metrics: { loss: 1, accuracy: 0 },
      trainMs: 1,
    };
    // The masked input waits for an upload slot as an update does; then it is out of its stage.
    expect(await code(send('secagg:masked', { ...masked, masked: new Uint8Array(4 * words) }))).toBe(
      'NO_UPLOAD_SLOT',
    );
    expect(await code(send('upload:slot', {}))).toBe('ok');
    expect(await code(send('secagg:masked', { ...masked, masked: new Uint8Array(4 * words) }))).toBe(
      'SECAGG_STAGE',
    );
    expect(await code(send('secagg:shares', { peers: [], ciphertexts: new Uint8Array(0) }))).toBe(
      'SECAGG_STAGE',
    );
    expect(await code(send('secagg:shares', { peers: [1], ciphertexts: new Uint8Array(5) }))).toBe(
      'INVALID_MESSAGE',
    );
    // A good advertisement, then the same again.
    const pk = generateKeyPair(chachaRandomBytes(new Uint8Array(32).fill(7))).publicKey;
    expect(await code(send('secagg:advertise', { cPk: pk, sPk: pk }))).toBe('ok');
    expect(await code(send('secagg:advertise', { cPk: pk, sPk: pk }))).toBe('REPLAY');
    // A plain update has no place in a secure round.
    expect((await rogue.send(msg, new Float32Array(await dimension()))).ok).toBe(false);
    // The sleeper never advertises: the stage ends at its deadline and the keys go out.
    await waitFor(allSent('secagg:advertise'));
    clock.advance(5000);
    // The rogue never shares: the share stage drops it at its deadline and the others finish
    // (the later stages end early, once every survivor has answered).
    await waitFor(allSent('secagg:shares'));
    clock.advance(5000);
    const record = (await finished()) as { status: string; reported: number; rejected: number };
    expect(record).toMatchObject({ status: 'committed', reported: 4 });
    expect(record.rejected).toBeGreaterThanOrEqual(6);
    expect(await error(mean(deltas))).toBeLessThan(QUANTIZATION);
    const shares = { peers: [0], ciphertexts: new Uint8Array(82) };
    expect(await code(send('secagg:shares', shares))).toBe('ROUND_CLOSED');
  });

  it('checks a masked input report before looking at its vector: size first, then fields', () => {
    const report = {
      modelVersion: 0,
      numExamples: 1,
      backend: 'cpu',
      metrics: { loss: 1, accuracy: 0 },
      trainMs: 1,
    };
    const refused = (c: string): unknown => expect.objectContaining({ code: c });
    expect(() => parseMaskedReport({ ...report, masked: new Uint8Array(44) }, 10)).toThrow(
      refused('PAYLOAD_TOO_LARGE'),
    );
    expect(() => parseMaskedReport({ ...report, masked: new Uint8Array(36) }, 10)).toThrow(
      refused('SHAPE_MISMATCH'),
    );
    expect(() => parseMaskedReport({ ...report, masked: [1, 2] }, 10)).toThrow(refused('INVALID_MESSAGE'));
    const tpu = { ...report, backend: 'tpu', masked: new Uint8Array(40) };
    expect(() => parseMaskedReport(tpu, 10)).toThrow(refused('INVALID_MESSAGE'));
    const noLoss = { ...report, metrics: { accuracy: 1 }, masked: new Uint8Array(40) };
    expect(() => parseMaskedReport(noLoss, 10)).toThrow(refused('INVALID_MESSAGE'));
    expect(parseMaskedReport({ ...report, masked: new ArrayBuffer(40) }, 10).masked.byteLength).toBe(40);
  });

  it('composes with distributed DP: clients clip and noise before masking, the noised sum is divided by the expected count', async () => {
    coordinator = await startTestCoordinator({
      rounds: {
        cohortSize: 4,
        minReports: 4,
        minClients: 4,
        overSelection: 1,
        deadlineMs: 20_000,
        maxRounds: 1,
      },
      privacy: {
        mode: 'distributed',
        noiseMultiplier: 1,
        adaptive: { targetQuantile: 0.5, learningRate: 0.2, initialClip: 0.5 },
        delta: 1e-5,
        epsilonBudget: 50,
      },
      // Noise of std z C / sqrt(minReports) = 0.25 per coordinate: a range of 4 clips nothing.
      secureAggregation: { range: 4, stageMs: 15_000 },
    });
    dirs.push(coordinator.dataDir);
    const d = await dimension();
    const sent: Float32Array[] = [];
    for (let i = 0; i < 4; i++) {
      const c = new NodeContributor(coordinator.url, `secure-dp-${i}`);
      clients.push(c);
      c.socket.on('round:start', (msg) => {
        const p = msg.privacy!;
        expect(msg.secagg).toMatchObject({ clipBit: true, words: d + 1, range: 4 });
        const { clipped, norm } = clipToNorm(deltaOf(i, d), p.clipNorm);
        const update = addGaussianNoise(clipped, p.noiseStd, seededRng(100 + i));
        sent.push(update);
        c.secagg.start(msg, update, { clipBit: clipBit(norm, p.clipNorm) });
      });
      await c.hello();
    }
    const record = (await finished()) as {
      status: string;
      reported: number;
      privacy?: { clipBits?: unknown };
    };
    expect(record).toMatchObject({ status: 'committed', reported: 4 });
    expect(record.privacy?.clipBits).toBeDefined();
    // The fixed-denominator mean: the noised sum over the plan's expected reports (4 here).
    expect(await error(mean(sent))).toBeLessThan(4 * QUANTIZATION);
  });

  it("masks values on the round's shared coordinate set only: the sum moves those, the rest stays", async () => {
    coordinator = await startTestCoordinator({
      rounds: {
        cohortSize: 5,
        minReports: 5,
        minClients: 5,
        overSelection: 1,
        deadlineMs: 20_000,
        maxRounds: 1,
      },
      secureAggregation: { range: 1, stageMs: 15_000 },
      compression: { kind: 'shared', fraction: 0.1, bits: 32 },
    });
    dirs.push(coordinator.dataDir);
    const deltas = await cohort(5);
    const record = (await finished()) as { status: string; reported: number };
    expect(record).toMatchObject({ status: 'committed', reported: 5 });
    const d = deltas[0]!.length;
    // The set every client was told, the same for all of them.
    const set = clients.map((c) => uploadPlanFor(c.rounds[0]!, d).coordinates!);
    for (const other of set) expect([...other]).toEqual([...set[0]!]);
    const coordinates = new Set(set[0]);
    expect(coordinates.size).toBeGreaterThan(0);
    expect(coordinates.size).toBeLessThan(d / 5);
    const expected = mean(deltas);
    const [v0, v1] = [await weights(0), await weights(1)];
    for (let j = 0; j < d; j++) {
      const step = v1[j]! - v0[j]!;
      if (coordinates.has(j)) expect(Math.abs(step - expected[j]!)).toBeLessThan(QUANTIZATION);
      else expect(step).toBe(0);
    }
  });

  it("carries SCAFFOLD's Delta c_i inside the mask: the server's c moves by their mean", async () => {
    coordinator = await startTestCoordinator({
      rounds: {
        cohortSize: 3,
        minReports: 3,
        minClients: 3,
        overSelection: 1,
        deadlineMs: 20_000,
        maxRounds: 1,
      },
      strategy: { scaffold: true },
      secureAggregation: { range: 1, stageMs: 15000 },
    });
    dirs.push(coordinator.dataDir);
    const d = await dimension();
    const deltas: Float32Array[] = [];
    for (let i = 0; i < 3; i++) {
      const c = new NodeContributor(coordinator.url, `secure-scaffold-${i}`);
      clients.push(c);
      c.socket.on('round:start', (msg) => {
        const delta = deltaOf(i, d);
        deltas.push(delta);
        c.secagg.start(msg, delta, { controlDelta: new Float32Array(d).fill(0.2 * (i + 1)) });
      });
      await c.hello();
    }
    const record = (await finished()) as { status: string; reported: number };
    expect(record).toMatchObject({ status: 'committed', reported: 3 });
    expect(await error(mean(deltas))).toBeLessThan(QUANTIZATION);
    // All three connected clients reported: |S| / N = 1, so c = mean Delta c_i = 0.4.
    const saved = (await coordinator.store.getStrategyState('tiny'))!;
    const c = saved.state['scaffold.c'] as Float32Array;
    expect(Math.abs(c[0]! - 0.4)).toBeLessThan(QUANTIZATION);
    expect(Math.abs(c[d - 1]! - 0.4)).toBeLessThan(QUANTIZATION);
  });

  it('refuses a secure task that cannot work, naming why', async () => {
    const task = (extra: Record<string, unknown>): Promise<unknown> =>
      resolveTaskInput({
        id: 'bad',
        name: 'bad',
        model: { kind: 'mlp', hidden: [4] },
        rounds: { cohortSize: 5, minReports: 3, minClients: 5, deadlineMs: 1000 },
        secureAggregation: true,
        ...extra,
      });
    await expect(task({ strategy: { robust: { kind: 'median' } } })).rejects.toMatchObject({
      code: 'INVALID_TASK',
      message: expect.stringMatching(/secure aggregation reveals only their sum/),
    });
    await expect(
      task({ rounds: { cohortSize: 2, minReports: 2, minClients: 2, deadlineMs: 1000 } }),
    ).rejects.toMatchObject({ code: 'INVALID_TASK', message: expect.stringMatching(/at least 3 clients/) });
    await expect(task({ secureAggregation: { k: 3 } })).rejects.toMatchObject({ code: 'INVALID_TASK' });
    await expect(task({ secureAggregation: { range: -1 } })).rejects.toMatchObject({ code: 'INVALID_TASK' });
    await expect(
      task({ rounds: { cohortSize: 5, minReports: 3, minClients: 5, deadlineMs: 1000, mode: 'buffered' } }),
    ).rejects.toMatchObject({ code: 'INVALID_TASK', message: expect.stringMatching(/FedBuff/) });
    await expect(task({})).resolves.toMatchObject({ secureAggregation: { enabled: true, range: 1 } });
  });
});
