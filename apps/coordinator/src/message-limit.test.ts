import { specSize } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
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
});
