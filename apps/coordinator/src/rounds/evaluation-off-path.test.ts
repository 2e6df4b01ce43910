import {
  type Ack,
  OPERATOR_NAMESPACE,
  type OperatorClientToServerEvents,
  type OperatorRound,
  type OperatorServerToClientEvents,
  type OperatorSnapshot,
  specSize,
} from '@pollen/fl-core';
import { io, type Socket } from 'socket.io-client';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Evaluated } from '../store/types.ts';
import {
  NodeContributor,
  OPERATOR_HEADERS,
  TEST_OPERATOR_TOKEN,
  type TestCoordinator,
  waitFor,
} from '../testing/harness.ts';
import { ManualClock } from '../testing/manual-clock.ts';
import { testSession } from '../testing/session.ts';
import type { Evaluator } from './evaluations.ts';

const session = testSession();

/** Evaluations that finish when the test says: each call waits on its own promise. */
class HeldEvaluator implements Evaluator {
  readonly calls: { weights: Float32Array; resolve: (m: Evaluated) => void; reject: (e: Error) => void }[] =
    [];

  evaluate(weights: Float32Array): Promise<Evaluated> {
    return new Promise((resolve, reject) => this.calls.push({ weights, resolve, reject }));
  }
}

const task = (maxRounds: number): Record<string, unknown> => ({
  rounds: { cohortSize: 2, minReports: 2, minClients: 2, overSelection: 1, deadlineMs: 60_000, maxRounds },
});

/** Two clients that answer every round at once with a small update. */
async function twoClients(coordinator: TestCoordinator): Promise<void> {
  const d = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
  for (const id of ['client-aaaa', 'client-bbbb']) {
    const c = new NodeContributor(coordinator.url, id, () => new Float32Array(d).fill(0.01));
    session.clients.push(c);
    expect((await c.hello('tiny', 10)).ok).toBe(true);
  }
}

async function skippedCount(coordinator: TestCoordinator): Promise<number> {
  const res = await coordinator.app.inject({ url: '/metrics', headers: OPERATOR_HEADERS });
  const line = res.body.split('\n').find((l) => l.startsWith('pollen_evaluations_skipped_total{'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('held-out evaluation off the commit path', () => {
  it('starts the next round before the evaluation resolves, attaches metrics later and skips under back-pressure', async () => {
    const evaluator = new HeldEvaluator();
    const coordinator = await session.start(task(4), undefined, {
      clock: new ManualClock(),
      evaluator: () => evaluator,
    });
    const dashboard: Socket<OperatorServerToClientEvents, OperatorClientToServerEvents> = io(
      `${coordinator.url}${OPERATOR_NAMESPACE}`,
      {
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        auth: { token: TEST_OPERATOR_TOKEN },
      },
    );
    onTestFinished(() => {
      dashboard.disconnect();
    });
    const pushed: OperatorRound[] = [];
    dashboard.on('round', (r) => pushed.push(r));
    const snapshot = await new Promise<Ack<OperatorSnapshot>>((resolve) =>
      dashboard.emit('subscribe', { taskId: 'tiny' }, resolve),
    );
    expect(snapshot.ok).toBe(true);
    await twoClients(coordinator);

    // All four rounds commit while version 1's evaluation has not resolved: no commit waits for it.
    const done = await waitFor(async () => {
      const t = (await coordinator.store.getTask('tiny'))!;
      return t.status === 'completed' && t;
    });
    expect(done.currentVersion).toBe(4);
    expect(evaluator.calls).toHaveLength(1);
    const rounds = await coordinator.store.listRounds('tiny');
    expect(rounds.map((r) => [r.status, r.newVersion, r.metrics])).toEqual([
      ['committed', 1, null],
      ['committed', 2, null],
      ['committed', 3, null],
      ['committed', 4, null],
    ]);
    // Each next round opened once the one before committed, not after an evaluation.
    for (let i = 1; i < rounds.length; i++) expect(rounds[i]!.baseVersion).toBe(i);
    // Versions 2 and 3 were overtaken by 4 while 1 was being evaluated.
    expect(await skippedCount(coordinator)).toBe(2);

    evaluator.calls[0]!.resolve({ loss: 0.75, accuracy: 0.5 });
    await waitFor(() => evaluator.calls.length === 2);
    const v4 = (await coordinator.store.getVersion('tiny', 4))!.weights;
    expect(evaluator.calls[1]!.weights).toEqual(v4);
    evaluator.calls[1]!.resolve({ loss: 0.5, accuracy: 0.75 });
    const evaluated = await waitFor(async () => {
      const rs = await coordinator.store.listRounds('tiny');
      return rs[3]!.metrics !== null && rs;
    });
    expect(evaluated.map((r) => r.metrics?.accuracy ?? 'not evaluated')).toEqual([
      0.5,
      'not evaluated',
      'not evaluated',
      0.75,
    ]);
    expect(evaluated[1]!.evaluationMs).toBeUndefined();
    expect(evaluated[0]!.checksum).toBe(rounds[0]!.checksum);
    const versions = await coordinator.store.listVersions('tiny');
    expect(versions.map((v) => v.metrics?.loss ?? null)).toEqual([expect.any(Number), 0.75, null, null, 0.5]);
    // The dashboard got each evaluated round again, with its metrics, after its commit.
    await waitFor(() => pushed.some((r) => r.roundId === 4 && r.metrics !== null));
    const firstPush = pushed.findIndex((r) => r.roundId === 1 && r.status === 'committed');
    const withMetrics = pushed.findIndex((r) => r.roundId === 1 && r.metrics !== null);
    expect(firstPush).toBeGreaterThanOrEqual(0);
    expect(withMetrics).toBeGreaterThan(firstPush);
    expect(pushed[withMetrics]!.metrics).toEqual({ loss: 0.75, accuracy: 0.5 });
  });

  it('evaluates on restart the current version a stopped coordinator left unevaluated', async () => {
    const held = new HeldEvaluator();
    const first = await session.start(task(1), undefined, {
      clock: new ManualClock(),
      evaluator: () => held,
    });
    await twoClients(first);
    await waitFor(async () => (await first.store.getTask('tiny'))!.currentVersion === 1);
    await waitFor(() => held.calls.length === 1);
    // The process goes away before the evaluation finishes (here: it fails as the thread dies).
    held.calls[0]!.reject(new Error('the evaluator thread died'));
    await first.close();
    const again = new HeldEvaluator();
    const second = await session.start(task(1), first.dataDir, {
      clock: new ManualClock(),
      evaluator: () => again,
    });
    expect((await second.store.getVersion('tiny', 1))!.metrics).toBeNull();
    await waitFor(() => again.calls.length === 1);
    again.calls[0]!.resolve({ loss: 0.25, accuracy: 0.9 });
    const record = await waitFor(async () => {
      const r = (await second.store.listRounds('tiny'))[0]!;
      return r.metrics !== null && r;
    });
    expect(record).toMatchObject({ newVersion: 1, metrics: { loss: 0.25, accuracy: 0.9 } });
    expect((await second.store.getVersion('tiny', 1))!.metrics).toEqual({ loss: 0.25, accuracy: 0.9 });
  });

  it('takes FedBuff commits off the evaluation path too', async () => {
    const evaluator = new HeldEvaluator();
    const coordinator = await session.start(
      {
        rounds: {
          mode: 'buffered',
          cohortSize: 2,
          minReports: 1,
          minClients: 2,
          overSelection: 1,
          bufferSize: 2,
          concurrency: 2,
          deadlineMs: 60_000,
          maxRounds: 3,
        },
      },
      undefined,
      { clock: new ManualClock(), evaluator: () => evaluator },
    );
    await twoClients(coordinator);
    await waitFor(async () => (await coordinator.store.getTask('tiny'))!.currentVersion === 3);
    expect(evaluator.calls).toHaveLength(1);
    expect(await skippedCount(coordinator)).toBe(1);
    evaluator.calls[0]!.resolve({ loss: 1 });
    await waitFor(() => evaluator.calls.length === 2);
    evaluator.calls[1]!.resolve({ loss: 0.5 });
    const versions = await waitFor(async () => {
      const vs = await coordinator.store.listVersions('tiny');
      return vs[3]!.metrics !== null && vs;
    });
    expect(versions.slice(1).map((v) => v.metrics?.loss ?? null)).toEqual([1, null, 0.5]);
  });
});
