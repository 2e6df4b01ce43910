import { specSize } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { BASE_PING_TIMEOUT_MS, pingTimeoutFor } from './message-limit.ts';
import { resolveTaskInput } from './task-file.ts';
import { NodeContributor, type TestCoordinator } from './testing/harness.ts';
import { testSession } from './testing/session.ts';

let coordinator: TestCoordinator | undefined;
const session = testSession();

const rounds = {
  cohortSize: 1,
  minReports: 1,
  minClients: 1,
  overSelection: 1,
  deadlineMs: 30_000,
  maxRounds: 1,
};

describe("the transport's message limit", () => {
  it('grows when a task with a larger model is created after start, so its uploads arrive whole', async () => {
    coordinator = await session.start({ rounds });
    const tiny = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
    const big = await coordinator.engine.createTask(
      await resolveTaskInput({ id: 'big', model: { kind: 'mlp', hidden: [64] }, rounds }),
    );
    const d = specSize(big.weightSpec);
    // Far past what the start-time limit (the tiny model's update plus 64 KiB) let through.
    expect(d * 4).toBeGreaterThan(tiny * 4 + 128 * 1024);

    const c = new NodeContributor(coordinator.url, 'client-big');
    session.clients.push(c);
    const started = c.nextRound();
    expect((await c.hello('big')).ok).toBe(true);
    const round = await started;
    const ack = await c.send(round, new Float32Array(d).fill(0.001));
    expect(ack).toMatchObject({ ok: true, roundId: round.roundId });
  });

  it('gives the heartbeat time for the largest message to cross a slow link', async () => {
    expect(pingTimeoutFor(400_000)).toBe(BASE_PING_TIMEOUT_MS);
    // A 5M-weight model's 20 MB frame at 512 KiB/s: about 38 s before a heartbeat gets through.
    expect(pingTimeoutFor(20_000_000)).toBe(38_147);
    coordinator = await session.start({ rounds });
    const big = await coordinator.engine.createTask(
      await resolveTaskInput({ id: 'bigger', model: { kind: 'mlp', hidden: [4096] }, rounds }),
    );
    const bytes = specSize(big.weightSpec) * 4;
    const engine = coordinator.io.engine as unknown as { opts: { pingTimeout: number } };
    expect(engine.opts.pingTimeout).toBeGreaterThan(pingTimeoutFor(bytes) - 1);
    expect(engine.opts.pingTimeout).toBeGreaterThan(BASE_PING_TIMEOUT_MS);
  });
});
