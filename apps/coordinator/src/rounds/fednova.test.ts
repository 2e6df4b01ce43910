import { specSize } from '@pollen/fl-core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  NodeContributor,
  removeDir,
  startTestCoordinator,
  type TestCoordinator,
  waitFor,
} from '../testing/harness.ts';

// FedNova and learning-rate schedules through a real coordinator on 127.0.0.1:0 with a SQLite
// file, contributors speaking the Socket.io protocol from Node (in the clear and under SecAgg+).

let coordinator: TestCoordinator | undefined;
const clients: NodeContributor[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await coordinator?.close();
  coordinator = undefined;
  for (const dir of dirs.splice(0)) removeDir(dir);
});

async function start(task: Record<string, unknown>): Promise<TestCoordinator> {
  coordinator = await startTestCoordinator(task);
  dirs.push(coordinator.dataDir);
  return coordinator;
}

function contributor(id: string): NodeContributor {
  const c = new NodeContributor(coordinator!.url, id);
  clients.push(c);
  return c;
}

const rounds = (n: number, maxRounds: number): Record<string, unknown> => ({
  cohortSize: n,
  minReports: n,
  minClients: n,
  overSelection: 1,
  deadlineMs: 20_000,
  maxRounds,
});
const dimension = async (): Promise<number> =>
  specSize((await coordinator!.store.getTask('tiny'))!.weightSpec);
const weights = async (version: number): Promise<Float32Array> =>
  (await coordinator!.store.getVersion('tiny', version))!.weights;
const committed = (count: number): Promise<unknown> =>
  waitFor(
    async () =>
      (await coordinator!.store.listRounds('tiny')).filter((r) => r.status === 'committed').length >= count,
    20_000,
  );

describe('FedNova', () => {
  it('applies tau_eff * mean Delta_i / tau_i, refuses updates without valid steps, and sends the scheduled lr', async () => {
    await start({
      rounds: rounds(2, 2),
      strategy: { fednova: true },
      training: {
        epochs: 1,
        batchSize: 32,
        learningRate: 0.1,
        schedule: { kind: 'exponential', decay: 0.5 },
      },
    });
    const d = await dimension();
    const [a, b] = [contributor('client-nova-a'), contributor('client-nova-b')];
    const first = [a.nextRound(), b.nextRound()];
    await a.hello();
    await b.hello();
    const [msgA, msgB] = await Promise.all(first);
    expect(msgA!.strategy).toEqual({ proximalMu: 0, scaffold: false, fednova: true });
    expect(msgA!.training.learningRate).toBe(0.1);

    const code = async (steps: unknown): Promise<string> => {
      const ack = await a.send(msgA!, new Float32Array(d).fill(0.01), steps === undefined ? {} : { steps });
      return ack.ok ? 'ok' : ack.code;
    };
    expect(await code(undefined)).toBe('INVALID_MESSAGE');
    for (const bad of [0, 1e8, '3']) expect(await code(bad)).toBe('INVALID_MESSAGE');

    const next = [a.nextRound(), b.nextRound()];
    expect(await code(2)).toBe('ok');
    expect((await b.send(msgB!, new Float32Array(d).fill(0.08), { steps: 8 })).ok).toBe(true);
    await committed(1);
    // Equal weights (10 examples each): tau_eff = 5, mean Delta/tau = (0.005 + 0.01) / 2, so
    // the step is 0.0375, where FedAvg's mean would be 0.045.
    const moved = (await weights(1))[0]! - (await weights(0))[0]!;
    expect(moved).toBeCloseTo(0.0375, 6);
    // Round 2 trains version 1: lr = 0.1 * 0.5^1.
    const [msg2] = await Promise.all(next);
    expect(msg2!.training.learningRate).toBeCloseTo(0.05, 12);
  });

  it('under secure aggregation the clients mask Delta_i / tau_i and tau_i; the server gets the same aggregate', async () => {
    await start({
      rounds: rounds(3, 1),
      strategy: { fednova: true },
      secureAggregation: { range: 1, stageMs: 15_000 },
    });
    const d = await dimension();
    const steps = [3, 6, 12];
    const deltas = steps.map((_, i) =>
      Float32Array.from({ length: d }, (_, j) => 0.02 * Math.sin(1 + i * 5 + j)),
    );
    for (let i = 0; i < 3; i++) {
      const c = contributor(`secure-nova-${i}`);
      c.socket.on('round:start', (msg) => {
        expect(msg.secagg!.steps).toBe(true);
        const normalized = Float32Array.from(deltas[i]!, (v) => v / steps[i]!);
        c.secagg.start(msg, normalized, { steps: steps[i]! });
      });
      await c.hello();
    }
    await committed(1);
    const [v0, v1] = [await weights(0), await weights(1)];
    const tauEff = (3 + 6 + 12) / 3;
    for (const j of [0, 1, d - 1]) {
      const expected = (tauEff * deltas.reduce((s, delta, i) => s + delta[j]! / steps[i]!, 0)) / 3;
      expect(Math.abs(v1[j]! - v0[j]! - expected)).toBeLessThan(1e-5);
    }
  });
});
