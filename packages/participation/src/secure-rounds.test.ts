import {
  chachaRandomBytes,
  decodeSecAggSum,
  fixedPointBits,
  layoutWords,
  packKeys,
  packShares,
  type RoundSecAgg,
  SecAggServer,
  secAggParams,
  unpackReveal,
  unpackShares,
} from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { inputParts, type SecureEvent, SecureRounds, type SecureStage } from './secure-rounds.ts';

const N = 3;
const D = 5;
/** The masked vector of the round: D dense values, nothing after them. */
const LAYOUT = {
  dimension: D,
  coordinates: null,
  control: false,
  clipBit: false,
  range: 1,
  bits: fixedPointBits(N),
};
const WORDS = layoutWords(LAYOUT);

function block(index: number): RoundSecAgg {
  return {
    index,
    n: N,
    k: N - 1,
    threshold: 2,
    seed: new Uint8Array(32).fill(5),
    range: 1,
    bits: fixedPointBits(N),
    control: false,
    clipBit: false,
    words: WORDS,
    stageMs: 1000,
  };
}

const REPORT = { modelVersion: 0, numExamples: 1, backend: 'cpu' as const, metrics: { loss: 0 }, trainMs: 0 };

/** A device's SecureRounds whose sends, failures and stages are recorded. */
function device(i: number) {
  const sent: { event: SecureEvent; payload: Record<string, unknown> }[] = [];
  const failed: string[] = [];
  const stages: SecureStage[] = [];
  const rounds = new SecureRounds({
    randomBytes: chachaRandomBytes(new Uint8Array(32).fill(i + 1)),
    send: (_roundId, event, payload) => sent.push({ event, payload: payload as Record<string, unknown> }),
    fail: (_roundId, code) => failed.push(code),
    stage: (_roundId, stage) => stages.push(stage),
  });
  const last = (event: SecureEvent) => [...sent].reverse().find((s) => s.event === event)?.payload;
  return { rounds, sent, failed, stages, last };
}

describe('SecureRounds', () => {
  it("takes a round's steps in any order the network brings them; the server unmasks the sum", () => {
    const devices = Array.from({ length: N }, (_, i) => device(i));
    const server = new SecAggServer(
      secAggParams({ n: N, d: WORDS, k: N - 1, threshold: 2, seed: new Uint8Array(32).fill(5) }),
    );
    for (const [i, d] of devices.entries()) {
      d.rounds.handle({ step: 'start', roundId: 1, taskId: 't', block: block(i) });
      server.receiveAdvertise(i, d.last('secagg:advertise') as never);
    }
    for (const [i, m] of server.closeAdvertise()) {
      const msg = { taskId: 't', roundId: 1, ...packKeys(m) };
      devices[i]!.rounds.handle({ step: 'keys', roundId: 1, msg });
      // Sent again after a reconnection: answered already, nothing changes.
      devices[i]!.rounds.handle({ step: 'keys', roundId: 1, msg });
      server.receiveShares(i, unpackShares(devices[i]!.last('secagg:shares')!, N));
    }
    const deltas = devices.map((_, i) =>
      Float32Array.from({ length: D }, (_, j) => 0.01 * (i + 1) * (j + 1)),
    );
    for (const [i, m] of server.closeShares()) {
      const deliver = {
        step: 'deliver' as const,
        roundId: 1,
        msg: { taskId: 't', roundId: 1, ...packShares(m.shares) },
      };
      const input = {
        step: 'input' as const,
        roundId: 1,
        parts: inputParts(deltas[i]!, null, null, null),
        report: REPORT,
      };
      // The input before the partners' shares for some, after for others: both mask once.
      for (const step of i % 2 === 0 ? [input, deliver] : [deliver, input]) devices[i]!.rounds.handle(step);
      const masked = devices[i]!.last('secagg:masked')!;
      server.receiveMaskedInput(i, { masked: masked.masked as Uint8Array });
    }
    for (const [i, m] of server.closeMaskedInput()) {
      devices[i]!.rounds.handle({ step: 'request', roundId: 1, msg: { taskId: 't', roundId: 1, ...m } });
      server.receiveUnmask(i, unpackReveal(devices[i]!.last('secagg:reveal')!, N));
    }
    const { sum, contributors } = server.finish();
    const out = decodeSecAggSum(LAYOUT, sum, contributors.length);
    for (let j = 0; j < D; j++) expect(out.delta[j]).toBeCloseTo(0.01 * 6 * (j + 1), 5);
    for (const d of devices) {
      expect(d.failed).toEqual([]);
      expect(d.sent.map((s) => s.event)).toEqual([
        'secagg:advertise',
        'secagg:shares',
        'secagg:masked',
        'secagg:reveal',
      ]);
      expect(d.stages.at(-1)).toBe('revealed');
    }
  });

  it('reports a failure once and wipes the round; steps of a round it left or aborted are ignored', () => {
    const d = device(0);
    d.rounds.handle({ step: 'start', roundId: 2, taskId: 't', block: { ...block(0), index: 7 } });
    expect(d.failed).toEqual(['INVALID_MESSAGE']);
    d.rounds.handle({ step: 'start', roundId: 3, taskId: 't', block: block(0) });
    const input = inputParts(new Float32Array(D + 1), null, null, null);
    d.rounds.handle({ step: 'input', roundId: 3, parts: input, report: REPORT });
    expect(d.failed).toEqual(['INVALID_MESSAGE', 'SHAPE_MISMATCH']);
    expect(d.stages).toEqual(['aborted', 'advertised', 'aborted']);
    d.rounds.handle({ step: 'start', roundId: 4, taskId: 't', block: block(0) });
    d.rounds.handle({ step: 'abort', roundId: 4 });
    d.rounds.handle({
      step: 'input',
      roundId: 4,
      parts: inputParts(new Float32Array(D), null, null, null),
      report: REPORT,
    });
    expect(d.sent.map((s) => s.event)).toEqual(['secagg:advertise', 'secagg:advertise']);
    expect(d.failed).toHaveLength(2);
  });
});
