import { encodeDense } from '@pollen/compression';
import { type PollenErrorCode, specSize } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { NodeContributor } from '../testing/harness.ts';
import { ManualClock } from '../testing/manual-clock.ts';
import { testSession } from '../testing/session.ts';
import type { DrivenRound, RoundHandle, Submission } from './handle.ts';
import { Round } from './round.ts';
import { SecAggRound } from './secagg-round.ts';

// Every kind of round driven through the one interface (handle.ts): the contributor gateway,
// the runners and the cluster see nothing else of a round. The cluster's relay, a kind of its
// own, is driven the same way in cluster/relay-handle.test.ts.

const D = 6;
const session = testSession();

/** A plain update of `d` values of `value`, trained on `version`, as the gateway parses one. */
function submission(clientId: string, roundId: number, version: number, d = D, value = 0.01): Submission {
  return {
    clientId,
    maxNorm: 1000,
    update: {
      taskId: 'tiny',
      roundId,
      modelVersion: version,
      numExamples: 5,
      backend: 'cpu',
      metrics: { loss: 1 },
      trainMs: 3,
      update: encodeDense(new Float32Array(d).fill(value), 'f32'),
    },
  };
}

function refusal(fn: () => unknown): PollenErrorCode | 'none' {
  try {
    fn();
    return 'none';
  } catch (err) {
    return (err as { code: PollenErrorCode }).code;
  }
}

/** An empty partial of a plain round, for a secure round to refuse. */
const partialOf = {
  taskId: 'tiny',
  roundId: 3,
  baseVersion: 2,
  dimension: D,
  selected: [],
  target: 1,
  deadlineMs: 1,
};

const advertise = {
  taskId: 'tiny',
  roundId: 3,
  cPk: new Uint8Array(32).fill(1),
  sPk: new Uint8Array(32).fill(2),
};

describe('every kind of round, through the one RoundHandle interface', () => {
  it('sync: takes a plain update through its intake, refuses stage messages, records what it took', () => {
    const clock = new ManualClock();
    const round: DrivenRound = new Round({
      taskId: 'tiny',
      roundId: 3,
      baseVersion: 2,
      dimension: D,
      selected: ['a', 'b', 'c'],
      target: 3,
      deadlineMs: 60_000,
      clock,
    });
    expect([round.kind, round.taskId, round.roundId, round.baseVersion, round.isOpen]).toEqual([
      'sync',
      'tiny',
      3,
      2,
      true,
    ]);
    expect(refusal(() => round.intake(submission('z', 3, 2)))).toBe('NOT_IN_ROUND');
    expect(refusal(() => round.intake(submission('a', 3, 1)))).toBe('STALE_MODEL');
    expect(refusal(() => round.intake(submission('a', 3, 2, D + 1)))).toBe('SHAPE_MISMATCH');
    expect(refusal(() => round.intake({ ...submission('a', 3, 2, D, 100), maxNorm: 1 }))).toBe(
      'NORM_TOO_LARGE',
    );
    expect(refusal(() => round.intake(submission('a', 3, 2)))).toBe('none');
    expect(refusal(() => round.intake(submission('a', 3, 2)))).toBe('REPLAY');
    expect(refusal(() => round.receive('secagg:advertise', 'b', advertise))).toBe('INVALID_MESSAGE');
    round.drop('b');
    expect(refusal(() => round.checkMembership('b'))).toBe('ROUND_CLOSED');
    expect(round.record()).toMatchObject({ status: 'open', reported: 1, rejected: 3, selected: 3 });
    // What a cluster's other nodes get to run their share: the sums' shape, no SecAgg blocks.
    expect(round.share(['c'])).toEqual({
      dimension: D,
      target: 3,
      robust: { kind: 'none' },
      scaffold: false,
      privacy: null,
    });
    expect(round.startFor('c')).toEqual({});
    round.close('stopped');
    expect(round.isOpen).toBe(false);
    expect(refusal(() => round.intake(submission('c', 3, 2)))).toBe('ROUND_CLOSED');
  });

  it('secure: refuses a plain update, takes its stage messages, records no report before the sum', () => {
    const clock = new ManualClock();
    const sent: string[] = [];
    const round: DrivenRound = new SecAggRound({
      taskId: 'tiny',
      roundId: 3,
      baseVersion: 2,
      dimension: D,
      selected: ['a', 'b', 'c'],
      target: 3,
      minReports: 2,
      deadlineMs: 60_000,
      settings: { enabled: true, range: 1, stageMs: 10_000 },
      send: (clientId, event) => sent.push(`${clientId} ${event}`),
      clock,
    });
    expect([round.kind, round.roundId, round.baseVersion, round.isOpen]).toEqual(['secure', 3, 2, true]);
    expect(refusal(() => round.intake(submission('z', 3, 2)))).toBe('NOT_IN_ROUND');
    expect(refusal(() => round.intake(submission('a', 3, 2)))).toBe('INVALID_MESSAGE');
    expect(refusal(() => round.receive('secagg:advertise', 'a', advertise))).toBe('none');
    expect(refusal(() => round.receive('secagg:advertise', 'a', advertise))).toBe('REPLAY');
    round.drop('c');
    expect(refusal(() => round.checkMembership('c'))).toBe('ROUND_CLOSED');
    expect(round.record()).toMatchObject({ status: 'open', reported: 0, selected: 3, rejected: 2 });
    // Each client's start carries its own SecAgg index; the other nodes get their clients' blocks.
    expect(round.startFor('b').secagg).toMatchObject({ index: 1, n: 3 });
    expect(Object.keys(round.share(['b', 'c']).secagg!)).toEqual(['b', 'c']);
    expect(refusal(() => round.absorb(new Round({ ...partialOf, clock }).partial()))).toBe('INVALID_MESSAGE');
    round.close('stopped');
    expect(round.isOpen).toBe(false);
    expect(round.record().reason).toBe('coordinator stopped');
  });

  it("handout: a buffered task's hand-out takes one update into the open buffer, and the buffer's record counts it", async () => {
    const coordinator = await session.start({
      rounds: {
        mode: 'buffered',
        cohortSize: 2,
        minReports: 1,
        minClients: 1,
        overSelection: 1,
        bufferSize: 2,
        concurrency: 2,
        deadlineMs: 20_000,
        maxRounds: 0,
      },
    });
    const d = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
    const client = new NodeContributor(coordinator.url, 'client-handout');
    session.clients.push(client);
    const started = client.nextRound();
    expect((await client.hello()).ok).toBe(true);
    const { roundId, modelVersion } = await started;
    const runner = coordinator.engine.runner('tiny')!;
    const round: RoundHandle = runner.target(client.clientId, roundId)!;
    expect([round.kind, round.roundId, round.baseVersion, round.isOpen]).toEqual([
      'handout',
      roundId,
      modelVersion,
      true,
    ]);
    expect(refusal(() => round.checkMembership('client-other'))).toBe('ROUND_CLOSED');
    expect(refusal(() => round.receive('secagg:advertise', client.clientId, advertise))).toBe(
      'INVALID_MESSAGE',
    );
    expect(refusal(() => round.intake(submission(client.clientId, roundId, modelVersion + 1, d)))).toBe(
      'STALE_MODEL',
    );
    expect(refusal(() => round.intake(submission(client.clientId, roundId, modelVersion, d)))).toBe('none');
    // Taken: the client no longer holds the hand-out, and the buffer's record counts its update.
    expect(round.isOpen).toBe(false);
    expect(refusal(() => round.checkMembership(client.clientId))).toBe('ROUND_CLOSED');
    expect(runner.openRecords()[0]).toMatchObject({ roundId, reported: 1, rejected: 1, mode: 'buffered' });
    expect(() => runner.target(client.clientId, roundId)).toThrow(/already reported/);
  });
});
