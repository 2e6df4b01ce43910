import { specSize } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { NodeContributor, waitFor } from '../testing/harness.ts';
import { testSession } from '../testing/session.ts';
import { uploadSlotBytes } from './intake.ts';

// Flow control on uploads (upload-slots.ts) over real sockets: with a budget of one byte, every
// upload of a round waits for the one before it to arrive, and the round still commits the
// exact mean, plain or securely aggregated.

const session = testSession();
const CLIENTS = 5;
const rounds = {
  cohortSize: CLIENTS,
  minReports: CLIENTS,
  minClients: CLIENTS,
  overSelection: 1,
  deadlineMs: 30_000,
  maxRounds: 1,
};

describe('upload flow control', () => {
  it.each([
    { name: 'plain', task: {} },
    { name: 'secure', task: { secureAggregation: { range: 4, stageMs: 15_000 } } },
  ])(
    '$name rounds take one upload at a time under a one-byte budget and commit the exact mean',
    async ({ task }) => {
      const coordinator = await session.start({ rounds, ...task }, undefined, { uploadBudgetBytes: 1 });
      const stored = (await coordinator.store.getTask('tiny'))!;
      const d = specSize(stored.weightSpec);
      for (let i = 0; i < CLIENTS; i++) {
        const c = new NodeContributor(coordinator.url, `client-flow-${i}`, () =>
          new Float32Array(d).fill(i * 0.01),
        );
        session.clients.push(c);
        expect((await c.hello()).ok).toBe(true);
      }
      const round = await waitFor(
        async () => (await coordinator.store.listRounds('tiny')).find((r) => r.status !== 'open'),
        30_000,
      );
      expect(round).toMatchObject({ status: 'committed', reported: CLIENTS });
      const slots = coordinator.engine.uploadSlots;
      // Never more than one upload granted and not yet received.
      expect(slots.peakInFlightBytes).toBe(uploadSlotBytes(stored));
      expect(slots.inFlightBytes).toBe(0);
      expect(slots.queued).toBe(0);
      const v0 = (await coordinator.store.getVersion('tiny', 0))!.weights;
      const v1 = (await coordinator.store.getVersion('tiny', 1))!.weights;
      // Equal example counts: the mean of 0, 0.01, ..., 0.04 is 0.02 (secure: to its quantization).
      for (const j of [0, d - 1]) expect(v1[j]! - v0[j]!).toBeCloseTo(0.02, 4);
    },
  );
});
