import { specSize } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { NodeContributor, type TestCoordinator, waitFor } from '../testing/harness.ts';
import { ManualClock } from '../testing/manual-clock.ts';
import { testSession } from '../testing/session.ts';
import { RECONNECT_GRACE_MS } from './engine.ts';

let coordinator: TestCoordinator | undefined;
const session = testSession();
const { clients } = session;

function contributor(id: string): NodeContributor {
  const c = new NodeContributor(coordinator!.url, id);
  clients.push(c);
  return c;
}

/** Break the connection the way a network drop does: no goodbye, the transport just closes. */
function breakConnection(c: NodeContributor): void {
  c.socket.io.engine.close();
}

const task = {
  rounds: { cohortSize: 1, minReports: 1, minClients: 1, overSelection: 1, deadlineMs: 30_000, maxRounds: 0 },
};

describe('a selected client that loses its connection', () => {
  it('keeps its place in the round when it comes back with the same client id, and its update counts', async () => {
    coordinator = await session.start(task);
    const d = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
    const first = contributor('client-flaky');
    const started = first.nextRound();
    await first.hello();
    const msg = await started;
    breakConnection(first);
    await waitFor(() => coordinator!.engine.population.counts().total === 0);

    const again = contributor('client-flaky');
    const resent = again.nextRound();
    expect((await again.hello()).ok).toBe(true);
    expect(coordinator.engine.population.byClientId('client-flaky')?.activeRound).toBe(msg.roundId);
    // The round's start comes again on the new connection: the first may have been lost with the old.
    const repeat = await resent;
    expect(repeat).toMatchObject({
      roundId: msg.roundId,
      modelVersion: msg.modelVersion,
      deadline: msg.deadline,
    });
    expect(again.rounds).toHaveLength(1);
    expect((await again.send(repeat, new Float32Array(d).fill(0.01))).ok).toBe(true);
    const record = await waitFor(async () =>
      (await coordinator!.store.listRounds('tiny')).find((r) => r.status !== 'open'),
    );
    expect(record).toMatchObject({ status: 'committed', reported: 1, dropped: 0 });
  });

  it('is dropped once the grace period passes without it, and the round closes then', async () => {
    const clock = new ManualClock();
    coordinator = await session.start(task, undefined, { clock });
    const gone = contributor('client-gone');
    const started = gone.nextRound();
    await gone.hello();
    await started;
    breakConnection(gone);
    await waitFor(() => coordinator!.engine.population.counts().total === 0);
    // A moment before the grace period ends it still holds its place.
    clock.advance(RECONNECT_GRACE_MS - 1);
    expect((await coordinator.store.listRounds('tiny')).map((r) => r.status)).toEqual(['open']);
    clock.advance(1);
    const record = await waitFor(async () =>
      (await coordinator!.store.listRounds('tiny')).find((r) => r.status !== 'open'),
    );
    expect(record).toMatchObject({ status: 'abandoned', reported: 0, dropped: 1, deadlineHit: false });
  });

  it('is dropped at once when it leaves on purpose', async () => {
    // The clock stands still: neither the grace period nor the deadline can be what closes the round.
    const clock = new ManualClock();
    coordinator = await session.start(task, undefined, { clock });
    const leaver = contributor('client-bye');
    const started = leaver.nextRound();
    await leaver.hello();
    await started;
    leaver.close();
    const record = await waitFor(async () =>
      (await coordinator!.store.listRounds('tiny')).find((r) => r.status !== 'open'),
    );
    expect(record).toMatchObject({ status: 'abandoned', dropped: 1, deadlineHit: false });
  });
});
