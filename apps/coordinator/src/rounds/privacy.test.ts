import { decodeDense } from '@pollen/compression';
import {
  type Ack,
  addGaussianNoise,
  clipBit,
  clipToNorm,
  epsilonFor,
  hashSeed,
  PrivacyLedger,
  type RoundStartMessage,
  seededRng,
  specSize,
  toBytes,
} from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { NodeContributor, OPERATOR_HEADERS, type TestCoordinator, waitFor } from '../testing/harness.ts';
import { testSession } from '../testing/session.ts';
import { chargedSamplingRate, loadLedger, predictedSamplingRate } from './privacy.ts';

let coordinator: TestCoordinator | undefined;
const session = testSession();
const { clients } = session;

const rounds = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  cohortSize: 2,
  minReports: 2,
  minClients: 2,
  overSelection: 1,
  deadlineMs: 20_000,
  maxRounds: 0,
  ...extra,
});

const distributed = { mode: 'distributed', noiseMultiplier: 1, clipNorm: 1, delta: 1e-5, epsilonBudget: 50 };
const adaptive = {
  mode: 'distributed',
  noiseMultiplier: 1,
  adaptive: { targetQuantile: 0.5, learningRate: 0.2, initialClip: 0.5 },
  delta: 1e-5,
  epsilonBudget: 50,
};

/**
 * A Node contributor that does what the browser does with a round's privacy block: clip the
 * delta to C, add its share of noise, and send the clipping bit when asked.
 */
function privateClient(
  id: string,
  raw: (dimension: number) => Float32Array,
  options: { noise?: boolean; numExamples?: number; maxAnswers?: number } = {},
): NodeContributor & { privateAcks: Ack[] } {
  const c = Object.assign(new NodeContributor(coordinator!.url, id), { privateAcks: [] as Ack[] });
  clients.push(c);
  const rng = seededRng(hashSeed(id));
  let answered = 0;
  c.socket.on('round:start', (msg) => {
    if (answered++ >= (options.maxAnswers ?? Number.POSITIVE_INFINITY)) return;
    const p = msg.privacy!;
    const { clipped, norm } = clipToNorm(raw(decodeDense(toBytes(msg.weights!)).vector.length), p.clipNorm);
    const update = options.noise === false ? clipped : addGaussianNoise(clipped, p.noiseStd, rng);
    const fields = {
      numExamples: options.numExamples ?? 10,
      ...(p.clipBit ? { clipBit: clipBit(norm, p.clipNorm) } : {}),
    };
    c.send(msg, update, fields).then(
      (ack) => c.privateAcks.push(ack),
      () => undefined,
    );
  });
  return c;
}

async function operator(
  path: string,
  headers: Record<string, string> = OPERATOR_HEADERS,
): Promise<{
  status: number;
  body: Record<string, unknown>;
}> {
  const res = await coordinator!.app.inject({ url: path, headers });
  return { status: res.statusCode, body: res.json<Record<string, unknown>>() };
}

const committed = async () =>
  (await coordinator!.store.listRounds('tiny')).filter((r) => r.status === 'committed');

describe('differential privacy in rounds', () => {
  it('tells clients C and their noise, weighs every report once, and charges each committed round', async () => {
    coordinator = await session.start({ rounds: rounds({ maxRounds: 3 }), privacy: distributed });
    const d = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
    // Norms 0.5 and 0.8, below C = 1 and sent without noise, so the mean is exact: every
    // report counts once whatever its example count, over the expected 2 reports.
    const a = privateClient('client-dp-a', (n) => new Float32Array(n).fill(0.5 / Math.sqrt(n)), {
      noise: false,
      numExamples: 10,
    });
    const b = privateClient('client-dp-b', (n) => new Float32Array(n).fill(0.8 / Math.sqrt(n)), {
      noise: false,
      numExamples: 1000,
    });
    await a.hello();
    await b.hello();
    await waitFor(async () => (await coordinator!.store.getTask('tiny'))!.status === 'completed', 20_000);

    const start: RoundStartMessage = a.rounds[0]!;
    expect(start.privacy).toMatchObject({ mode: 'distributed', clipNorm: 1, clipBit: false, delta: 1e-5 });
    // z*C/sqrt(m) with m = minReports = 2.
    expect(start.privacy!.noiseStd).toBeCloseTo(1 / Math.SQRT2, 12);
    expect(start.privacy!.epsilonBefore).toBe(0);
    expect(a.privateAcks.every((ack) => ack.ok)).toBe(true);

    const records = await committed();
    expect(records).toHaveLength(3);
    const epsilons = records.map((r) => r.privacy!.epsilon!);
    for (const [i, r] of records.entries()) {
      expect(r.privacy).toMatchObject({
        mode: 'distributed',
        samplingRate: 1,
        noiseMultiplier: 1,
        clipNorm: 1,
      });
      // Two eligible clients, both drawn: q = 1, so the ledger is the plain Gaussian composition.
      expect(epsilons[i]).toBeCloseTo(
        epsilonFor({ samplingRate: 1, noiseMultiplier: 1, steps: i + 1, delta: 1e-5 }).epsilon,
        9,
      );
      expect(r.clientMetrics).toEqual([]);
    }
    expect(a.rounds[1]!.privacy!.epsilonBefore).toBeCloseTo(epsilons[0]!, 9);
    expect(a.rounds[0]!.privacy!.epsilonAfter).toBeCloseTo(epsilons[0]!, 9);

    const v0 = (await coordinator.store.getVersion('tiny', 0))!.weights;
    const v1 = (await coordinator.store.getVersion('tiny', 1))!.weights;
    const step = (0.5 + 0.8) / 2 / Math.sqrt(d);
    for (const i of [0, 100, d - 1]) expect(v1[i]! - v0[i]!).toBeCloseTo(step, 5);

    const privacy = await operator('/api/tasks/tiny/privacy');
    expect(privacy.status).toBe(200);
    expect(privacy.body).toMatchObject({
      taskId: 'tiny',
      mode: 'distributed',
      rounds: 3,
      epsilonBudget: 50,
      delta: 1e-5,
      clipNorm: 1,
      version: 3,
      exhausted: null,
      entries: [{ samplingRate: 1, noiseMultiplier: 1, steps: 3 }],
    });
    expect(privacy.body.epsilon).toBeCloseTo(epsilons[2]!, 9);
    expect(privacy.body.remaining).toBeCloseTo(50 - epsilons[2]!, 9);
    const wrong: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-token-wrong-token' }];
    for (const headers of wrong) {
      const refused = await operator('/api/tasks/tiny/privacy', headers);
      expect(refused.status).toBe(401);
      expect(refused.body.code).toBe('UNAUTHORIZED');
    }
    expect((await operator('/api/tasks/nope/privacy')).body.code).toBe('UNKNOWN_TASK');
  });

  it('refuses reports past C plus the noise allowance and clipping bits that are missing, unasked or not 0/1', async () => {
    coordinator = await session.start({ rounds: rounds({ deadlineMs: 5000 }), privacy: adaptive });
    const d = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
    const good = privateClient('client-good', (n) => new Float32Array(n).fill(0.01));
    const bad = new NodeContributor(coordinator.url, 'client-bad1');
    clients.push(bad);
    const started = bad.nextRound();
    await bad.hello();
    await good.hello();
    const msg = await started;
    const p = msg.privacy!;
    expect(p).toMatchObject({ clipNorm: 0.5, clipBit: true });
    const code = async (update: Float32Array, fields: Record<string, unknown> = {}): Promise<string> => {
      const ack = await bad.send(msg, update, fields);
      return ack.ok ? 'ok' : ack.code;
    };
    const honest = addGaussianNoise(
      clipToNorm(new Float32Array(d).fill(1), p.clipNorm).clipped,
      p.noiseStd,
      seededRng(1),
    );
    // Unclipped (norm sqrt(d) = 80) without noise: far past C + noise allowance.
    expect(await code(new Float32Array(d).fill(1), { clipBit: 0 })).toBe('NORM_TOO_LARGE');
    expect(await code(honest)).toBe('INVALID_MESSAGE');
    expect(await code(honest, { clipBit: 2 })).toBe('INVALID_MESSAGE');
    expect(await code(honest, { clipBit: true })).toBe('INVALID_MESSAGE');
    expect(await code(honest, { clipBit: '1' })).toBe('INVALID_MESSAGE');
    expect(await code(honest, { clipBit: 0 })).toBe('ok');

    const first = await waitFor(async () => (await committed())[0]);
    expect(first.rejected).toBe(2); // the norm and the missing bit; the envelope errors come first
    // Both reports were clipped (norms 0.8 and 80, above C = 0.5), so both bits are 0.
    const bits = first.privacy!.clipBits!;
    expect(bits.nextClipNorm).toBeCloseTo(0.5 * Math.exp(-0.2 * (bits.noisedFraction - 0.5)), 12);
    const privacy = await operator('/api/tasks/tiny/privacy');
    expect(privacy.body.clipNorm).toBeCloseTo(bits.nextClipNorm, 12);
    const next = await waitFor(() => good.rounds[1]);
    expect(next.privacy!.clipNorm).toBeCloseTo(bits.nextClipNorm, 12);
  });

  it('refuses a clipping bit in a round without adaptive clipping', async () => {
    coordinator = await session.start({
      rounds: rounds({ cohortSize: 1, minReports: 1, minClients: 1 }),
      privacy: distributed,
    });
    const d = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
    const c = new NodeContributor(coordinator.url, 'client-bit1');
    clients.push(c);
    const started = c.nextRound();
    await c.hello();
    const msg = await started;
    const ack = await c.send(msg, new Float32Array(d), { clipBit: 1 });
    expect(ack.ok ? 'ok' : ack.code).toBe('INVALID_MESSAGE');
    expect((await c.send(msg, new Float32Array(d))).ok).toBe(true);
  });

  it('stops selecting, with status budget-exhausted and a reason, before a round would pass the budget', async () => {
    // q = 1, z = 1, delta = 1e-5: epsilon 4.73, 7.08, 9.01 after 1, 2, 3 rounds; a budget of 8 allows 2.
    coordinator = await session.start({
      rounds: rounds(),
      privacy: { ...distributed, epsilonBudget: 8 },
    });
    const a = privateClient('client-bud-a', (n) => new Float32Array(n).fill(0.001));
    const b = privateClient('client-bud-b', (n) => new Float32Array(n).fill(0.002));
    await a.hello();
    await b.hello();
    await waitFor(
      async () => (await coordinator!.store.getTask('tiny'))!.status === 'budget-exhausted',
      20_000,
    );
    expect(await committed()).toHaveLength(2);
    // No third round was opened.
    expect(await coordinator.store.listRounds('tiny')).toHaveLength(2);
    const privacy = await operator('/api/tasks/tiny/privacy');
    expect(privacy.body).toMatchObject({ status: 'budget-exhausted', rounds: 2 });
    expect(privacy.body.epsilon).toBeLessThanOrEqual(8);
    expect(privacy.body.exhausted).toMatch(/would take epsilon from 7\.077 to 9\.010, past the budget of 8/);
    const tasks = (await coordinator.app.inject('/api/tasks')).json<{ status: string }[]>();
    expect(tasks[0]!.status).toBe('budget-exhausted');
    const resume = await coordinator.app.inject({
      method: 'POST',
      url: '/api/tasks/tiny/start',
      headers: OPERATOR_HEADERS,
    });
    expect(resume.statusCode).toBe(409);
    expect(resume.json<{ code: string }>().code).toBe('TASK_NOT_RUNNING');
  });

  it('keeps the ledger and the adaptive clip norm across a restart and charges on from them', async () => {
    const task = { rounds: rounds(), privacy: adaptive };
    coordinator = await session.start(task);
    const dataDir = coordinator.dataDir;
    const raw = (n: number): Float32Array => new Float32Array(n).fill(0.3 / Math.sqrt(n));
    // Two rounds answered; the third stays open until the coordinator goes down, uncharged.
    const a = privateClient('client-rst-a', raw, { maxAnswers: 2 });
    await a.hello();
    await privateClient('client-rst-b', raw, { maxAnswers: 2 }).hello();
    await waitFor(() => a.rounds.length === 3, 20_000);
    const before = (await operator('/api/tasks/tiny/privacy')).body;
    expect(before.rounds).toBe(2);
    expect(before.clipNorm).not.toBe(0.5);
    for (const c of clients.splice(0)) c.close();
    await coordinator.close();

    coordinator = await session.start(task, dataDir);
    expect((await coordinator.store.listRounds('tiny')).map((r) => r.status)).toEqual([
      'committed',
      'committed',
      'abandoned',
    ]);
    const after = (await operator('/api/tasks/tiny/privacy')).body;
    expect(after).toEqual(before);
    const c = privateClient('client-rst-a', raw);
    await c.hello();
    await privateClient('client-rst-b', raw).hello();
    const next = await waitFor(() => c.rounds[0]);
    expect(next.privacy!.clipNorm).toBeCloseTo(before.clipNorm as number, 12);
    expect(next.privacy!.epsilonBefore).toBeCloseTo(before.epsilon as number, 12);
    await waitFor(async () => (await committed()).length >= 3, 20_000);
    const third = (await committed())[2]!;
    expect(third.privacy!.epsilon).toBeCloseTo(
      epsilonFor({ samplingRate: 1, noiseMultiplier: 1, steps: 3, delta: 1e-5 }).epsilon,
      9,
    );
  });
});

describe('privacy settings over the operator API', () => {
  it.each([
    ['a negative z', { privacy: { ...distributed, noiseMultiplier: -1 } }, /privacy.noiseMultiplier/],
    [
      'a z that is not a number',
      { privacy: { ...distributed, noiseMultiplier: 'NaN' } },
      /privacy.noiseMultiplier/,
    ],
    ['delta of 1', { privacy: { ...distributed, delta: 1 } }, /privacy.delta/],
    ['a zero budget', { privacy: { ...distributed, epsilonBudget: 0 } }, /privacy.epsilonBudget/],
    ['SCAFFOLD under noise', { privacy: distributed, strategy: { scaffold: true } }, /SCAFFOLD/],
  ])('refuses %s with 400 INVALID_TASK and creates nothing', async (_name, fields, message) => {
    coordinator = await session.start({ rounds: rounds() });
    const res = await coordinator.app.inject({
      method: 'POST',
      url: '/api/tasks',
      headers: OPERATOR_HEADERS,
      payload: { id: 'private', model: { kind: 'mlp', hidden: [4] }, ...fields },
    });
    expect(res.statusCode).toBe(400);
    const error = res.json<{ code: string; message: string }>();
    expect(error.code).toBe('INVALID_TASK');
    expect(error.message).toMatch(message);
    expect(await coordinator.store.getTask('private')).toBeUndefined();
  });
});

describe('what a round is charged', () => {
  const spec = { samplingRate: 0.01, overSelection: 1.3, minClients: 20 } as const;
  const rounds = { cohortSize: 100, minReports: 10, deadlineMs: 1000, maxRounds: 0, ...spec };

  it('predicts the largest q a cohort can be charged, and charges no more', () => {
    // 10,000 eligible: the Poisson rate 0.013; 1,000 eligible: the top-up to 20 forces 0.02.
    expect(predictedSamplingRate(rounds, 10_000)).toBeCloseTo(0.013, 12);
    expect(predictedSamplingRate(rounds, 1000)).toBeCloseTo(0.02, 12);
    expect(predictedSamplingRate(rounds, 10)).toBe(1);
    expect(chargedSamplingRate({ rate: 0.013, clamped: 'none' }, 150, 10_000)).toBe(0.013);
    expect(chargedSamplingRate({ rate: 0.013, clamped: 'max' }, 130, 20_000)).toBe(0.013);
    expect(chargedSamplingRate({ rate: 0.013, clamped: 'min' }, 20, 1000)).toBeCloseTo(0.02, 12);
  });

  it('refuses a stored ledger it cannot read rather than start again from zero', () => {
    const settings = { ...distributed, mode: 'distributed' as const };
    const ledger = new PrivacyLedger({ delta: 1e-6 });
    ledger.record(0.1, 1, 5);
    const stored = { version: 5, ledger: ledger.toJSON(), clipNorm: 1, exhausted: null };
    expect(() => loadLedger(settings, stored)).toThrow(/delta = 0.000001, the task's delta is 0.00001/);
    expect(() =>
      loadLedger(settings, { ...stored, ledger: { ...ledger.toJSON(), version: 2 } as never }),
    ).toThrow();
    expect(loadLedger(settings, { ...stored, ledger: null })!.steps).toBe(0);
    expect(loadLedger({ mode: 'off' }, stored)).toBeNull();
  });
});
