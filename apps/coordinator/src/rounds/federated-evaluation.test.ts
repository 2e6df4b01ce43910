import type { EvaluationStartMessage, HeldOutReport, TaskSpec } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { NodeContributor, OPERATOR_HEADERS, type TestCoordinator, waitFor } from '../testing/harness.ts';
import { ManualClock } from '../testing/manual-clock.ts';
import { testSession } from '../testing/session.ts';

// Federated evaluation rounds (docs/design.md, "Evaluation rounds"): idle devices score a
// committed version on their held-out examples and report metrics only; the record keeps the
// example-weighted means and the spread of the clients that reported.

const session = testSession();

const code = async (ack: Promise<{ ok: boolean; code?: string }>): Promise<string> => {
  const a = await ack;
  return a.ok ? 'ok' : a.code!;
};

const held = (accuracy: number, numExamples: number): HeldOutReport => ({
  metrics: { loss: 1 - accuracy, accuracy },
  numExamples,
});

/** An operator turns evaluation rounds on for the running task (engine.configure). */
async function turnOn(coordinator: TestCoordinator, federated: Record<string, number>): Promise<void> {
  const task = (await coordinator.store.getTask('tiny'))!;
  await coordinator.engine.configure('tiny', {
    ...task.spec,
    evaluation: { heldOutFraction: 0.2, heldOutSplit: { kind: 'newest', gap: 2 }, federated },
  } as TaskSpec);
}

describe('federated evaluation rounds', () => {
  it('give the example-weighted mean and the spread of the survivors, refusing bad reports with codes', async () => {
    const clock = new ManualClock();
    const coordinator = await session.start(
      {
        evaluation: { heldOutFraction: 0.2 },
        rounds: {
          cohortSize: 2,
          minClients: 2,
          minReports: 1,
          overSelection: 1,
          deadlineMs: 30_000,
          maxRounds: 0,
        },
      },
      undefined,
      { clock },
    );
    const { engine } = coordinator;
    // No training meanwhile: this test is about one evaluation round.
    await engine.setStatus('tiny', 'paused');
    const ids = ['client-ev-a', 'client-ev-b', 'client-ev-c', 'client-ev-vanish', 'client-ev-silent'];
    const clients = ids.map((id) => new NodeContributor(coordinator.url, id));
    session.clients.push(...clients);
    for (const c of clients) expect((await c.hello('tiny', 10)).ok).toBe(true);
    const asked = clients.map((c) => c.nextEvaluation());
    // Evaluation rounds are turned on: the current version (0) is due at once.
    await turnOn(coordinator, { every: 1, cohortSize: 5, minReports: 3, deadlineMs: 5000 });
    const msgs = await Promise.all(asked);
    const msg = msgs[0]!;
    expect(msgs.every((m) => m.evaluationId === msg.evaluationId)).toBe(true);
    // The devices hold out the same examples as in training rounds.
    expect(msg).toMatchObject({
      taskId: 'tiny',
      modelVersion: 0,
      heldOutFraction: 0.2,
      heldOutSplit: { kind: 'newest', gap: 2 },
    });
    expect(engine.population.counts('tiny').evaluating).toBe(5);
    // Busy devices are not available to training meanwhile.
    expect(engine.population.available('tiny')).toHaveLength(0);

    const [a, b, c, vanish] = clients as [NodeContributor, NodeContributor, NodeContributor, NodeContributor];
    // Refused, each with its code; the round carries on.
    expect(await code(c.report(msg, { metrics: { loss: 0.5, accuracy: 1.2 }, numExamples: 2 }))).toBe(
      'INVALID_MESSAGE',
    );
    expect(await code(c.report(msg, { metrics: { loss: 0.5 }, numExamples: 2 }))).toBe('INVALID_MESSAGE');
    expect(await code(c.report(msg, held(0.5, 11)))).toBe('INVALID_MESSAGE');
    expect(await code(c.report(msg, held(0.5, 2), { modelVersion: 3 }))).toBe('STALE_MODEL');
    expect(await code(c.report(msg, held(0.5, 2), { evaluationId: msg.evaluationId + 1 }))).toBe(
      'ROUND_CLOSED',
    );
    expect(await code(c.report(msg, held(0.5, 2), { taskId: 'other' }))).toBe('NOT_IN_ROUND');
    const late = new NodeContributor(coordinator.url, 'client-ev-late');
    session.clients.push(late);
    expect((await late.hello('tiny', 10)).ok).toBe(true);
    expect(await code(late.report(msg, held(0.5, 2)))).toBe('NOT_IN_ROUND');
    // Three reports, one device gone, one silent until the deadline.
    expect(await code(a.report(msg, held(0.9, 3)))).toBe('ok');
    expect(await code(a.report(msg, held(0.9, 3)))).toBe('REPLAY');
    expect(await code(b.report(msg, held(0.6, 5)))).toBe('ok');
    expect(await code(c.report(msg, held(0.3, 2)))).toBe('ok');
    vanish.close();
    await waitFor(() => engine.population.counts('tiny').evaluating === 1);
    clock.advance(5000);
    const record = await waitFor(async () =>
      (await coordinator.store.listEvaluations('tiny')).find((r) => r.status !== 'open'),
    );
    expect(record).toMatchObject({
      evaluationId: msg.evaluationId,
      version: 0,
      status: 'complete',
      selected: 5,
      eligible: 5,
      minReports: 3,
      reported: 3,
      dropped: 2,
      rejected: 2,
      deadlineHit: true,
      reason: null,
    });
    expect(record.bytesDown).toBe(5 * new Uint8Array(msg.weights as Uint8Array).byteLength);
    expect(record.bytesUp).toBeGreaterThan(0);
    // Exactly the example-weighted mean of the survivors' metrics: (0.9 * 3 + 0.6 * 5 + 0.3 * 2) / 10.
    const fe = record.federatedEvaluation!;
    expect(fe).toMatchObject({ version: 0, clients: 3, numExamples: 10 });
    expect(fe.metrics.accuracy).toBeCloseTo(0.63, 12);
    expect(fe.metrics.loss).toBeCloseTo(0.37, 12);
    expect(fe.distribution.accuracy).toMatchObject({
      clients: 3,
      min: 0.3,
      median: 0.6,
      max: 0.9,
      worst10: 0.3,
    });
    expect(fe.distribution.accuracy!.q1).toBeCloseTo(0.45, 12);
    expect(fe.distribution.accuracy!.q3).toBeCloseTo(0.75, 12);
    // The worst tenth by loss is the highest loss.
    expect(fe.distribution.loss!.worst10).toBeCloseTo(0.7, 12);
    expect(engine.population.counts('tiny').evaluating).toBe(0);
    // The operator API serves the same record.
    const api = await coordinator.app.inject({
      url: '/api/tasks/tiny/evaluations',
      headers: OPERATOR_HEADERS,
    });
    expect(api.statusCode).toBe(200);
    expect(api.json()).toEqual([record]);
    // A report after the round closed.
    expect(await code(c.report(msg, held(0.3, 2)))).toBe('ROUND_CLOSED');
  });

  it('run beside training rounds, which commit on schedule, and score the final version', async () => {
    const coordinator = await session.start({
      evaluation: {
        heldOutFraction: 0.2,
        federated: { every: 1, cohortSize: 2, minReports: 1, deadlineMs: 30_000 },
      },
      rounds: {
        cohortSize: 2,
        minClients: 2,
        minReports: 2,
        overSelection: 1,
        deadlineMs: 30_000,
        maxRounds: 3,
      },
    });
    const seen: EvaluationStartMessage[] = [];
    for (let i = 0; i < 5; i++) {
      const c = new NodeContributor(coordinator.url, `client-ev-both-${i}`, (global) =>
        new Float32Array(global.length).fill(0.01),
      );
      c.evaluator = (_global, msg) => {
        seen.push(msg);
        return held(0.1 * (i + 1), i + 1);
      };
      session.clients.push(c);
      expect((await c.hello('tiny', 10)).ok).toBe(true);
    }
    // Training commits its three versions while evaluation rounds take the idle devices.
    const task = await waitFor(async () => {
      const t = await coordinator.store.getTask('tiny');
      return t?.status === 'completed' ? t : null;
    }, 30_000);
    expect(task.currentVersion).toBe(3);
    const rounds = await coordinator.store.listRounds('tiny');
    expect(rounds.filter((r) => r.status === 'committed')).toHaveLength(3);
    // The last version is scored once training has freed the devices.
    const last = await waitFor(async () =>
      (await coordinator.store.listEvaluations('tiny')).find((r) => r.version === 3 && r.status !== 'open'),
    );
    expect(last.status).toBe('complete');
    expect(last.reported).toBe(last.selected);
    const all = await coordinator.store.listEvaluations('tiny');
    // One at a time, in order of version; no device was asked twice in a round.
    const versions = all.map((r) => r.version);
    expect([...versions].sort((x, y) => x - y)).toEqual(versions);
    for (const r of all) {
      expect(r.status).toBe('complete');
      const reports = seen.filter((m) => m.evaluationId === r.evaluationId);
      expect(reports).toHaveLength(r.reported);
    }
    expect(coordinator.engine.population.counts('tiny').evaluating).toBe(0);
  });
});

describe('evaluation rounds across a restart', () => {
  it('are abandoned when the coordinator stops, and the version is scored again when it is back', async () => {
    const task = {
      evaluation: {
        heldOutFraction: 0.2,
        federated: { every: 1, cohortSize: 2, minReports: 2, deadlineMs: 60_000 },
      },
      rounds: {
        cohortSize: 2,
        minClients: 2,
        minReports: 2,
        overSelection: 1,
        deadlineMs: 30_000,
        maxRounds: 0,
      },
    };
    let coordinator = await session.start(task);
    const dataDir = coordinator.dataDir;
    await coordinator.engine.setStatus('tiny', 'paused');
    // Two devices that are asked and never answer.
    const quiet = ['client-rs-a', 'client-rs-b'].map((id) => new NodeContributor(coordinator.url, id));
    session.clients.push(...quiet);
    const asked = quiet.map((c) => c.nextEvaluation());
    for (const c of quiet) expect((await c.hello('tiny', 10)).ok).toBe(true);
    await Promise.all(asked);
    await coordinator.close();

    coordinator = await session.start(task, dataDir);
    const stopped = (await coordinator.store.listEvaluations('tiny'))[0]!;
    expect(stopped).toMatchObject({ version: 0, status: 'abandoned', reason: 'the coordinator stopped' });
    // Back up, version 0 still has no evaluation that counted: devices that answer score it.
    for (const id of ['client-rs-c', 'client-rs-d']) {
      const c = new NodeContributor(coordinator.url, id);
      c.evaluator = () => held(0.5, 2);
      session.clients.push(c);
      expect((await c.hello('tiny', 10)).ok).toBe(true);
    }
    const again = await waitFor(async () =>
      (await coordinator.store.listEvaluations('tiny')).find((r) => r.status === 'complete'),
    );
    expect(again).toMatchObject({ evaluationId: stopped.evaluationId + 1, version: 0, reported: 2 });
  });
});

describe('secure evaluation rounds', () => {
  it('release only the totals, equal to the plain example-weighted means of the devices that stayed', async () => {
    const coordinator = await session.start({
      secureAggregation: {},
      evaluation: { heldOutFraction: 0.2 },
      rounds: {
        cohortSize: 3,
        minClients: 3,
        minReports: 3,
        overSelection: 1,
        deadlineMs: 30_000,
        maxRounds: 0,
      },
    });
    const { engine } = coordinator;
    await engine.setStatus('tiny', 'paused');
    const sent = new Map<string, HeldOutReport>();
    const clients = [0, 1, 2, 3].map((i) => {
      const c = new NodeContributor(coordinator.url, `client-sec-ev-${i}`);
      c.evaluator = () => {
        // The fourth device leaves once it has advertised its keys: SecAgg+ recovers without it.
        if (i === 3) {
          c.close();
          return null;
        }
        const report = held(0.2 + 0.25 * i, 2 + i);
        sent.set(c.clientId, report);
        return report;
      };
      session.clients.push(c);
      return c;
    });
    for (const c of clients) expect((await c.hello('tiny', 10)).ok).toBe(true);
    // Evaluation rounds turned on once the four devices are idle: all four are asked.
    await turnOn(coordinator, { every: 1, cohortSize: 4, minReports: 3, deadlineMs: 20_000 });
    const record = await waitFor(
      async () => (await coordinator.store.listEvaluations('tiny')).find((r) => r.status !== 'open'),
      20_000,
    );
    // Only totals: no device's figure, no spread.
    expect(record).toMatchObject({
      version: 0,
      status: 'complete',
      secure: true,
      selected: 4,
      reported: 3,
      dropped: 1,
    });
    const reports = [...sent.values()];
    const examples = reports.reduce((n, r) => n + r.numExamples, 0);
    const mean = (name: string) =>
      reports.reduce((s, r) => s + r.metrics[name]! * r.numExamples, 0) / examples;
    const fe = record.federatedEvaluation!;
    expect(fe).toMatchObject({ version: 0, clients: 3, numExamples: examples, distribution: {} });
    expect(fe.metrics.accuracy).toBeCloseTo(mean('accuracy'), 4);
    expect(fe.metrics.loss).toBeCloseTo(mean('loss'), 4);
    // A plain report has no place in a secure evaluation round.
    const late = clients[0]!;
    expect(await code(late.report(late.evaluations[0]!, held(0.5, 2)))).toBe('ROUND_CLOSED');
  });
});
