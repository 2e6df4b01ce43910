import { specSize } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { NodeContributor, waitFor } from '../testing/harness.ts';
import { testSession } from '../testing/session.ts';

// Evaluation on the devices (docs/tasks.md): a round of a task with `evaluation` asks its
// clients for the global model's metrics on their held-out examples, checks each report
// against the task and what the client said it holds, and keeps them in the round's record.

const session = testSession();
const rounds = {
  cohortSize: 3,
  minReports: 2,
  minClients: 3,
  overSelection: 1,
  deadlineMs: 30_000,
  maxRounds: 1,
};

async function cohortOf(taskExtra: Record<string, unknown>) {
  const coordinator = await session.start({ rounds, ...taskExtra });
  const d = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
  const clients: NodeContributor[] = [];
  for (const id of ['client-ho-a', 'client-ho-b', 'client-ho-c']) {
    const c = new NodeContributor(coordinator.url, id);
    session.clients.push(c);
    clients.push(c);
  }
  const started = clients[0]!.nextRound();
  for (const c of clients) expect((await c.hello('tiny', 10)).ok).toBe(true);
  return { coordinator, d, clients, msg: await started };
}

const code = async (ack: Promise<{ ok: boolean; code?: string }>): Promise<string> => {
  const a = await ack;
  return a.ok ? 'ok' : a.code!;
};

describe('held-out reports of the global model', () => {
  it('asks for them, refuses bad ones with codes, and records the good ones per client', async () => {
    const evaluation = { heldOutFraction: 0.2, heldOutSplit: { kind: 'newest', gap: 9 } };
    const { coordinator, d, clients, msg } = await cohortOf({ evaluation });
    // The devices are told the share and which examples (and nothing of evaluation rounds).
    expect(msg.evaluation).toEqual(evaluation);
    const [a, b, c] = clients as [NodeContributor, NodeContributor, NodeContributor];
    const delta = new Float32Array(d).fill(0.01);
    const report = (metrics: Record<string, number>, numExamples = 2) => ({
      heldOut: { metrics, numExamples },
    });
    // Out of range, missing or extra metrics, no examples, more than the client holds.
    expect(await code(c.send(msg, delta, report({ loss: 0.5, accuracy: 1.2 })))).toBe('INVALID_MESSAGE');
    expect(await code(c.send(msg, delta, report({ loss: 0.5 })))).toBe('INVALID_MESSAGE');
    expect(await code(c.send(msg, delta, report({ loss: 0.5, accuracy: 0.5, mse: 1 })))).toBe(
      'INVALID_MESSAGE',
    );
    expect(await code(c.send(msg, delta, report({ loss: 0.5, accuracy: 0.5 }, 0)))).toBe('INVALID_MESSAGE');
    expect(await code(c.send(msg, delta, report({ loss: 0.5, accuracy: 0.5 }, 11)))).toBe('INVALID_MESSAGE');
    // The round carries on with the good reports (and one client that holds none back).
    expect(await code(a.send(msg, delta, report({ loss: 0.4, accuracy: 0.9 }, 3)))).toBe('ok');
    expect(await code(b.send(msg, delta))).toBe('ok');
    // The third client reports too (holding nothing back), so the round closes now, not at its deadline.
    expect(await code(c.send(msg, delta))).toBe('ok');
    const record = await waitFor(async () =>
      (await coordinator.store.listRounds('tiny')).find((r) => r.status === 'committed'),
    );
    expect(record.reported).toBe(3);
    const heldOut = record.clientMetrics.map((m) => m.heldOut ?? null);
    expect(heldOut).toContainEqual({ metrics: { loss: 0.4, accuracy: 0.9 }, numExamples: 3 });
    expect(heldOut).toContain(null);
    // Summed up in the record: the version scored, the clients and examples, the means and spread.
    expect(record.onDevices).toMatchObject({
      version: 0,
      clients: 1,
      numExamples: 3,
      metrics: { loss: expect.closeTo(0.4, 12), accuracy: expect.closeTo(0.9, 12) },
      distribution: { accuracy: { min: 0.9, max: 0.9, worst10: 0.9 } },
    });
  });

  it('refuses a report the round did not ask for: no evaluation, or differential privacy', async () => {
    for (const [extra, evaluation] of [
      [{}, undefined],
      [
        {
          evaluation: { heldOutFraction: 0.2, heldOutSplit: { kind: 'newest', gap: 2 } },
          privacy: {
            mode: 'distributed',
            noiseMultiplier: 0.5,
            clipNorm: 1,
            delta: 1e-5,
            epsilonBudget: 1e3,
          },
        },
        // The devices still keep the examples apart (an evaluation round scores them later),
        // and report nothing on them.
        { heldOutFraction: 0.2, heldOutSplit: { kind: 'newest', gap: 2 }, report: false },
      ],
    ] as const) {
      const { d, clients, msg } = await cohortOf(extra);
      expect(msg.evaluation).toEqual(evaluation);
      const report = { heldOut: { metrics: { loss: 0.4, accuracy: 0.9 }, numExamples: 3 } };
      const ack = await clients[0]!.send(msg, new Float32Array(d), report);
      expect(ack).toMatchObject({
        ok: false,
        code: 'INVALID_MESSAGE',
        message: expect.stringContaining('"heldOut"'),
      });
    }
  });
});
