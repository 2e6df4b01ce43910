import { decodeDense, encodeDense } from '@pollen/compression';
import { type PollenError, type RoundStartMessage, specSize, toBytes } from '@pollen/fl-core';
import type { InjectOptions } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import {
  NodeContributor,
  OPERATOR_HEADERS,
  removeDir,
  startTestCoordinator,
  type TestCoordinator,
  waitFor,
} from '../testing/harness.ts';

// Integration tests of the task strategies: a real coordinator on 127.0.0.1:0 with a SQLite file,
// contributors speaking the real Socket.io protocol from Node.

let coordinator: TestCoordinator | undefined;
const clients: NodeContributor[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await coordinator?.close();
  coordinator = undefined;
  for (const dir of dirs.splice(0)) removeDir(dir);
});

async function start(task: Record<string, unknown>, dataDir?: string): Promise<TestCoordinator> {
  coordinator = await startTestCoordinator(task, dataDir);
  if (!dataDir) dirs.push(coordinator.dataDir);
  return coordinator;
}

function contributor(
  id: string,
  respond?: ConstructorParameters<typeof NodeContributor>[2],
): NodeContributor {
  const c = new NodeContributor(coordinator!.url, id, respond);
  clients.push(c);
  return c;
}

const rounds = (n: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  cohortSize: n,
  minReports: n,
  minClients: n,
  overSelection: 1,
  deadlineMs: 20_000,
  maxRounds: 0,
  ...extra,
});

const dimension = async (): Promise<number> =>
  specSize((await coordinator!.store.getTask('tiny'))!.weightSpec);
const weights = async (version: number): Promise<Float32Array> =>
  (await coordinator!.store.getVersion('tiny', version))!.weights;
const committed = (count: number): Promise<unknown> =>
  waitFor(
    async () =>
      (await coordinator!.store.listRounds('tiny')).filter((r) => r.status === 'committed').length >= count,
  );

describe('server optimizers at commit', () => {
  it('FedAvgM adds momentum: x2 = x1 + (beta * Delta + Delta)', async () => {
    await start({ rounds: rounds(1), strategy: { name: 'fedavgm', momentum: 0.5 } });
    const d = await dimension();
    await contributor('client-mom1', () => new Float32Array(d).fill(0.01)).hello();
    await committed(2);
    const [v0, v1, v2] = [await weights(0), await weights(1), await weights(2)];
    for (const i of [0, 5, d - 1]) {
      expect(v1[i]).toBeCloseTo(v0[i]! + 0.01, 6);
      expect(v2[i]).toBeCloseTo(v1[i]! + 0.015, 6);
    }
  });

  it("FedAdam steps eta * m / (sqrt(v) + tau) with Reddi et al.'s m and v", async () => {
    const strategy = { name: 'fedadam', serverLr: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 };
    await start({ rounds: rounds(1, { maxRounds: 1 }), strategy });
    const d = await dimension();
    const delta = 0.02;
    await contributor('client-adam', () => new Float32Array(d).fill(delta)).hello();
    await committed(1);
    // m = (1 - beta1) Delta, v = beta2 tau^2 + (1 - beta2) Delta^2 (Algorithm 2, v_{-1} = tau^2).
    const m = 0.1 * delta;
    const v = 0.99 * 1e-6 + 0.01 * delta * delta;
    const step = (0.1 * m) / (Math.sqrt(v) + 1e-3);
    const [v0, v1] = [await weights(0), await weights(1)];
    for (const i of [0, 7, d - 1]) expect(v1[i]).toBeCloseTo(v0[i]! + step, 5);
    // FedAvg would have moved by Delta itself: the rule really changed the commit.
    expect(Math.abs(step - delta)).toBeGreaterThan(1e-3);
    const saved = (await coordinator!.store.getStrategyState('tiny'))!;
    expect(saved.version).toBe(1);
    expect(saved.state.rounds).toBe(1);
    expect((saved.state.m as Float32Array)[0]).toBeCloseTo(m, 7);
  });
});

describe('robust aggregation', () => {
  it('multi-Krum leaves out an outlier that would drag the mean', async () => {
    await start({
      rounds: rounds(5, { maxRounds: 1 }),
      strategy: { robust: { kind: 'multi-krum', f: 1 } },
    });
    const d = await dimension();
    const values = [0.01, 0.011, 0.009, 0.01, 5];
    values.forEach((v, k) => {
      contributor(`client-krum${k}`, () => new Float32Array(d).fill(v));
    });
    for (const c of clients) await c.hello();
    await committed(1);
    // Multi-Krum keeps the n - f = 4 best-scored updates: the honest ones, whose mean is 0.01.
    const [v0, v1] = [await weights(0), await weights(1)];
    for (const i of [0, 3, d - 1]) expect(v1[i]! - v0[i]!).toBeCloseTo(0.01, 5);
  });

  it('the coordinate-wise median ignores one outlier of three', async () => {
    await start({ rounds: rounds(3, { maxRounds: 1 }), strategy: { robust: { kind: 'median' } } });
    const d = await dimension();
    [0.01, 0.02, 8].forEach((v, k) => {
      contributor(`client-med${k}`, () => new Float32Array(d).fill(v));
    });
    for (const c of clients) await c.hello();
    await committed(1);
    expect((await weights(1))[0]! - (await weights(0))[0]!).toBeCloseTo(0.02, 5);
  });
});

describe('task creation', () => {
  it.each([
    ['a negative mu', { mu: -0.1 }, /strategy.mu/],
    ['a trimmed-mean beta of 0.5', { robust: { kind: 'trimmed-mean', beta: 0.5 } }, /strategy.robust.beta/],
    ['an unknown strategy', { name: 'fedbest' }, /strategy.name/],
    ['Krum with too small a quorum', { robust: { kind: 'krum', f: 1 } }, /reports per round/],
  ])('refuses %s with INVALID_TASK', async (_name, strategy, message) => {
    const err = (await startTestCoordinator({ rounds: rounds(1), strategy }).then(
      () => null,
      (e: unknown) => e,
    )) as PollenError | null;
    expect(err?.code).toBe('INVALID_TASK');
    expect(err?.message).toMatch(message);
  });
});

describe('task creation over the operator API', () => {
  it('refuses a bad strategy with INVALID_TASK and checks a PATCH against the strategy', async () => {
    await start({ rounds: rounds(1) });
    const post = async (path: string, body: unknown, method = 'POST'): Promise<Record<string, unknown>> => {
      const res = await coordinator!.app.inject({
        method: method as InjectOptions['method'],
        url: path,
        headers: OPERATOR_HEADERS,
        payload: body as Record<string, unknown>,
      });
      return { ...res.json<Record<string, unknown>>(), http: res.statusCode };
    };
    const task = (strategy: unknown): Record<string, unknown> => ({
      id: 'krum-task',
      model: { kind: 'mlp', hidden: [4] },
      rounds: rounds(5),
      strategy,
    });
    expect(await post('/api/tasks', task({ robust: { kind: 'trimmed-mean', beta: 0.6 } }))).toMatchObject({
      http: 400,
      code: 'INVALID_TASK',
    });
    expect(await post('/api/tasks', task({ name: 'fedsgd' }))).toMatchObject({ code: 'INVALID_TASK' });
    expect((await post('/api/tasks', task({ robust: { kind: 'krum', f: 1 } }))).http).toBe(201);
    expect((await coordinator!.store.getTask('krum-task'))!.spec.strategy.robust).toEqual({
      kind: 'krum',
      f: 1,
    });
    // Krum with f = 1 needs 5 reports a round: a PATCH lowering the quorum is refused.
    expect(await post('/api/tasks/krum-task', { rounds: { minReports: 4 } }, 'PATCH')).toMatchObject({
      code: 'INVALID_TASK',
      message: expect.stringMatching(/at least 5 reports/),
    });
    expect((await post('/api/tasks/krum-task', { training: { learningRate: 0.05 } }, 'PATCH')).http).toBe(
      200,
    );
  });
});

/** Answer one round as a SCAFFOLD client would: Delta y and Delta c as two frames. */
async function sendScaffold(
  c: NodeContributor,
  msg: RoundStartMessage,
  delta: number,
  controlDelta: Float32Array | Uint8Array | string | undefined,
): ReturnType<NodeContributor['send']> {
  const d = await dimension();
  const fields: Record<string, unknown> = {};
  if (controlDelta !== undefined) {
    fields.controlDelta =
      controlDelta instanceof Float32Array ? encodeDense(controlDelta, 'f32') : controlDelta;
  }
  return c.send(msg, new Float32Array(d).fill(delta), fields);
}

describe('SCAFFOLD', () => {
  it('sends c with each round, folds in the mean Delta c_i, and refuses bad Delta c_i with codes', async () => {
    await start({ rounds: rounds(2, { maxRounds: 2 }), strategy: { scaffold: true, mu: 0.01 } });
    const d = await dimension();
    const [a, b] = [contributor('client-scaf-a'), contributor('client-scaf-b')];
    const first = [a.nextRound(), b.nextRound()];
    await a.hello();
    await b.hello();
    const [msgA, msgB] = await Promise.all(first);
    expect(msgA!.strategy).toEqual({ proximalMu: 0.01, scaffold: true });
    expect(Array.from(decodeDense(toBytes(msgA!.control!)).vector.slice(0, 3))).toEqual([0, 0, 0]);

    const code = async (p: ReturnType<NodeContributor['send']>): Promise<string> => {
      const ack = await p;
      return ack.ok ? 'ok' : ack.code;
    };
    expect(await code(sendScaffold(a, msgA!, 0.01, undefined))).toBe('INVALID_MESSAGE');
    expect(await code(sendScaffold(a, msgA!, 0.01, 'not binary'))).toBe('INVALID_MESSAGE');
    expect(await code(sendScaffold(a, msgA!, 0.01, new Float32Array(d - 1)))).toBe('SHAPE_MISMATCH');
    expect(await code(sendScaffold(a, msgA!, 0.01, new Uint8Array(40).fill(3)))).toBe('BAD_FRAME');
    const nan = new Float32Array(d);
    nan[2] = Number.NaN;
    expect(await code(sendScaffold(a, msgA!, 0.01, nan))).toBe('NON_FINITE');
    expect(await code(sendScaffold(a, msgA!, 0.01, new Float32Array(3 * d)))).toBe('PAYLOAD_TOO_LARGE');

    const next = [a.nextRound(), b.nextRound()];
    expect(await code(sendScaffold(a, msgA!, 0.01, new Float32Array(d).fill(2)))).toBe('ok');
    expect(await code(sendScaffold(b, msgB!, 0.03, new Float32Array(d).fill(4)))).toBe('ok');
    await committed(1);
    // Both connected clients reported: |S| / N = 1, c = mean Delta c_i = 3. Delta y is FedAvg's mean.
    const saved = (await coordinator!.store.getStrategyState('tiny'))!;
    expect((saved.state['scaffold.c'] as Float32Array)[0]).toBe(3);
    expect((await weights(1))[0]! - (await weights(0))[0]!).toBeCloseTo(0.02, 6);
    const [msg2] = await Promise.all(next);
    expect(Array.from(decodeDense(toBytes(msg2!.control!)).vector.slice(0, 2))).toEqual([3, 3]);
    // Counted against the round: the four refused after the envelope (missing, shape, frame, NaN).
    expect((await coordinator!.store.listRounds('tiny'))[0]!.rejected).toBe(4);
  });

  it('refuses a Delta c_i on a task without SCAFFOLD, and the old protocol version', async () => {
    await start({ rounds: rounds(1) });
    const d = await dimension();
    const c = contributor('client-plain');
    const started = c.nextRound();
    await c.hello();
    const msg = await started;
    expect(msg.strategy).toEqual({ proximalMu: 0, scaffold: false });
    expect(msg.control).toBeUndefined();
    // Next to a half-size (f16) update a Delta c_i fits the payload limit, and is refused as such.
    const ack = await c.send(msg, encodeDense(new Float32Array(d), 'f16'), {
      controlDelta: encodeDense(new Float32Array(3), 'f32'),
    });
    expect(ack.ok ? 'ok' : ack.code).toBe('INVALID_MESSAGE');
    // Next to a full-size one it does not even fit.
    const big = await sendScaffold(c, msg, 0.01, new Float32Array(3));
    expect(big.ok ? 'ok' : big.code).toBe('PAYLOAD_TOO_LARGE');
    const old = contributor('client-old1');
    await new Promise<void>((r) => old.socket.once('connect', () => r()));
    const reply = await old.socket.emitWithAck('hello', {
      protocolVersion: 1,
      clientId: 'client-old1',
      taskId: 'tiny',
      backend: 'cpu',
      numExamples: 1,
      eligible: true,
    });
    expect(reply.ok ? 'ok' : reply.code).toBe('INVALID_MESSAGE');
  });
});

describe('strategy state across a restart', () => {
  it("resumes FedAvgM's momentum and SCAFFOLD's c from the last committed version", async () => {
    const task = { rounds: rounds(1), strategy: { name: 'fedavgm', momentum: 0.5, scaffold: true } };
    await start(task);
    const { dataDir } = coordinator!;
    dirs.push(dataDir);
    const d = await dimension();
    let answered = 0;
    const c = contributor('client-rs01');
    c.socket.on('round:start', (msg) => {
      // One round answered; the next stays open and is abandoned by the shutdown.
      if (answered++ === 0) void sendScaffold(c, msg, 0.01, new Float32Array(d).fill(1));
    });
    await c.hello();
    await committed(1);
    await waitFor(() => answered >= 2);
    await coordinator!.close();
    c.close();

    await start(task, dataDir);
    const saved = (await coordinator!.store.getStrategyState('tiny'))!;
    expect(saved.version).toBe(1);
    expect((saved.state.m as Float32Array)[0]).toBeCloseTo(0.01, 7);
    const again = contributor('client-rs02');
    const started = again.nextRound();
    await again.hello();
    const msg = await started;
    expect(decodeDense(toBytes(msg.control!)).vector[0]).toBe(1);
    expect((await sendScaffold(again, msg, 0.01, new Float32Array(d).fill(1))).ok).toBe(true);
    await committed(2);
    // m2 = 0.5 * m1 + Delta = 0.015: the momentum survived; c2 = c1 + mean Delta c_i = 2.
    for (const i of [0, d - 1]) expect((await weights(2))[i]! - (await weights(1))[i]!).toBeCloseTo(0.015, 6);
    expect(
      ((await coordinator!.store.getStrategyState('tiny'))!.state['scaffold.c'] as Float32Array)[0],
    ).toBe(2);
    const statuses = (await coordinator!.store.listRounds('tiny')).map((r) => r.status);
    expect(statuses.slice(0, 3)).toEqual(['committed', 'abandoned', 'committed']);
  });
});
