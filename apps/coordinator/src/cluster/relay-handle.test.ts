import { encodeDense } from '@pollen/compression';
import type { PollenErrorCode } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import type { RoundHandle } from '../rounds/handle.ts';
import { type RelayForward, SecAggRelay } from './secagg-relay.ts';

// The cluster's kind of round through the one RoundHandle interface (rounds/handle.ts), as
// rounds/handle.test.ts drives the others.

const advertise = {
  taskId: 'tiny',
  roundId: 3,
  cPk: new Uint8Array(32).fill(1),
  sPk: new Uint8Array(32).fill(2),
};

function refusal(fn: () => unknown): PollenErrorCode | 'none' {
  try {
    fn();
    return 'none';
  } catch (err) {
    return (err as { code: PollenErrorCode }).code;
  }
}

/** A plain update, which a secure round's relay refuses. */
function submission(clientId: string) {
  return {
    clientId,
    maxNorm: 1000,
    update: {
      taskId: 'tiny',
      roundId: 3,
      modelVersion: 2,
      numExamples: 5,
      backend: 'cpu' as const,
      metrics: { loss: 1 },
      trainMs: 3,
      update: encodeDense(new Float32Array(6).fill(0.01), 'f32'),
    },
  };
}

describe('the relay through the one RoundHandle interface', () => {
  it("relay: a follower's share of a secure round forwards stage messages and departures to the holder", () => {
    const forwarded: RelayForward[] = [];
    const round: RoundHandle = new SecAggRelay('tiny', 3, 2, null, ['a', 'b'], 60_000, (f) =>
      forwarded.push(f),
    );
    expect([round.kind, round.roundId, round.baseVersion, round.isOpen]).toEqual(['relay', 3, 2, true]);
    expect(refusal(() => round.receive('secagg:advertise', 'z', advertise))).toBe('NOT_IN_ROUND');
    expect(refusal(() => round.intake(submission('a')))).toBe('INVALID_MESSAGE');
    expect(refusal(() => round.receive('secagg:advertise', 'a', advertise))).toBe('none');
    round.drop('b');
    expect(forwarded.map((f) => `${f.kind} ${f.clientId}`)).toEqual(['message a', 'drop b']);
    expect(refusal(() => round.checkMembership('b'))).toBe('ROUND_CLOSED');
    expect(round.record()).toMatchObject({ taskId: 'tiny', roundId: 3, selected: 2, rejected: 1 });
    round.close('stopped');
    expect(round.isOpen).toBe(false);
  });
});
