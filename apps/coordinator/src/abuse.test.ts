import { encodeDense } from '@pollen/compression';
import { specSize } from '@pollen/fl-core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  NodeContributor,
  removeDir,
  startTestCoordinator,
  type TestCoordinator,
  waitFor,
} from './testing/harness.ts';

let coordinator: TestCoordinator | undefined;
const sockets: NodeContributor[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await coordinator?.close();
  if (coordinator) removeDir(coordinator.dataDir);
  coordinator = undefined;
});

describe('abuse from many sockets', () => {
  it('gives every bad message an error code while honest clients keep training and the model stays clean', async () => {
    coordinator = await startTestCoordinator({
      rounds: {
        cohortSize: 8,
        minReports: 2,
        minClients: 8,
        overSelection: 1,
        deadlineMs: 4000,
        maxRounds: 2,
      },
    });
    const d = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
    const honestDelta = 0.01;
    const honest = ['client-hon1', 'client-hon2'].map(
      (id) => new NodeContributor(coordinator!.url, id, () => new Float32Array(d).fill(honestDelta)),
    );
    sockets.push(...honest);
    // Six attackers get selected too, and answer every round with one kind of garbage each.
    const nan = new Float32Array(d).fill(Number.NaN);
    const attacks: ((global: Float32Array) => Float32Array | Uint8Array)[] = [
      () => new Float32Array(d - 1),
      () => nan,
      () => new Float32Array(d).fill(1e9),
      () => new Uint8Array(40).fill(255),
      () => encodeDense(new Float32Array(d), 'f16').subarray(0, 100),
      () => new Uint8Array(32 + d * 4 + 1),
    ];
    const attackers = attacks.map((attack, i) => {
      const c = new NodeContributor(coordinator!.url, `client-atk${i}`);
      c.socket.on('round:start', async (msg) => {
        const first = await c.send(msg, attack(new Float32Array(d)));
        const replayed = await c.send(msg, attack(new Float32Array(d)));
        c.acks.push(first, replayed);
      });
      return c;
    });
    sockets.push(...attackers);
    for (const c of [...honest, ...attackers]) expect((await c.hello()).ok).toBe(true);

    // Outsiders: never selected (no examples), they spray updates for rounds they are not in.
    const outsiders = Array.from(
      { length: 4 },
      (_, i) => new NodeContributor(coordinator!.url, `client-out${i}`),
    );
    sockets.push(...outsiders);
    for (const c of outsiders) await c.hello('tiny', 0);
    const outsiderCodes = new Set<string>();
    for (const c of outsiders) {
      for (let roundId = 1; roundId <= 3; roundId++) {
        const ack = await c.send(
          {
            taskId: 'tiny',
            roundId,
            modelVersion: 0,
            deadline: 0,
            training: {} as never,
            codec: 'f32',
            weights: new Uint8Array(),
          },
          new Float32Array(d),
        );
        outsiderCodes.add(ack.ok ? 'ok' : ack.code);
      }
    }
    expect(outsiderCodes.has('ok')).toBe(false);

    await waitFor(async () => (await coordinator!.store.getTask('tiny'))!.status === 'completed', 30_000);
    const codes = new Set(attackers.flatMap((c) => c.acks.map((a) => (a.ok ? 'ok' : a.code))));
    expect(codes.has('ok')).toBe(false);
    for (const code of ['SHAPE_MISMATCH', 'NON_FINITE', 'NORM_TOO_LARGE', 'BAD_FRAME', 'PAYLOAD_TOO_LARGE']) {
      expect(codes).toContain(code);
    }
    // Every committed step is exactly the honest clients' mean: the attackers moved nothing.
    const rounds = (await coordinator.store.listRounds('tiny')).filter((r) => r.status === 'committed');
    expect(rounds).toHaveLength(2);
    for (const r of rounds) expect(r.reported).toBe(2);
    const v0 = (await coordinator.store.getVersion('tiny', 0))!.weights;
    const v2 = (await coordinator.store.getVersion('tiny', 2))!.weights;
    for (const i of [0, 1, d - 1]) expect(v2[i]).toBeCloseTo(v0[i]! + 2 * honestDelta, 5);
    expect((await coordinator.app.inject('/healthz')).statusCode).toBe(200);
  });
});
