import type { RoundSkippedMessage } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { NodeContributor, type TestCoordinator, waitFor } from '../testing/harness.ts';
import { testSession } from '../testing/session.ts';

let coordinator: TestCoordinator | undefined;
const session = testSession();
const { clients } = session;

describe('cohort selection', () => {
  it('draws Poisson cohorts, records how, and tells the clients left out when to come back', async () => {
    coordinator = await session.start({
      rounds: {
        cohortSize: 40,
        minReports: 1,
        minClients: 2,
        overSelection: 1,
        samplingRate: 0.25,
        deadlineMs: 3000,
        maxRounds: 4,
      },
    });
    const skipped: RoundSkippedMessage[] = [];
    for (let i = 0; i < 40; i++) {
      const c = new NodeContributor(
        coordinator.url,
        `client-s${String(i).padStart(4, '0')}`,
        (g) => new Float32Array(g.length),
      );
      c.socket.on('round:skipped', (msg) => skipped.push(msg));
      clients.push(c);
    }
    // Connect everyone before the task may select: it waits for minClients, so pause it first.
    await coordinator.engine.setStatus('tiny', 'paused');
    for (const c of clients) await c.hello();
    await coordinator.engine.setStatus('tiny', 'running');
    await waitFor(async () => (await coordinator!.store.getTask('tiny'))!.status === 'completed', 30_000);
    const rounds = await coordinator.store.listRounds('tiny');
    expect(rounds).toHaveLength(4);
    for (const r of rounds) {
      expect(r.eligible).toBe(40);
      expect(r.sampling).toEqual({ rate: 0.25, clamped: 'none' });
    }
    // 4 rounds of Binomial(40, 0.25): about 40 selected in all, far from all 160.
    const selected = rounds.reduce((n, r) => n + r.selected, 0);
    expect(selected).toBeGreaterThan(15);
    expect(selected).toBeLessThan(70);
    expect(skipped.length).toBe(160 - selected);
    expect(skipped.every((m) => m.retryAfterMs >= 1000 && m.retryAfterMs <= 3_600_000)).toBe(true);
  });
});
