import { bodyToDense, decodeFrame, encodeDense, sfc32 } from '@pollen/compression';
import { l2norm, type RoundPrivacy } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { encodeRoundUpload, packState, stateLength, unpackState } from './upload.ts';

const privacy: RoundPrivacy = {
  mode: 'off',
  clipNorm: 1,
  noiseStd: 0,
  clipBit: true,
  delta: null,
  epsilonBefore: null,
  epsilonAfter: null,
};

describe('encodeRoundUpload', () => {
  it('sends the dense frame of old when the round does not compress', () => {
    const delta = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i));
    const out = encodeRoundUpload(delta, { roundId: 4, codec: 'f16' }, null, sfc32(1));
    expect(Array.from(out.frame)).toEqual(Array.from(encodeDense(delta, 'f16', { round: 4 })));
    expect(out.residual).toBeNull();
  });

  it('carries the residual across rounds: what two top-k uploads sent plus what is kept is the sum of the deltas', () => {
    const d = 400;
    const compression = { kind: 'topk' as const, bits: 8 as const, k: 20, errorFeedback: true };
    const deltas = [1, 2].map((s) => Float32Array.from({ length: d }, (_, i) => Math.sin(i * s) * 0.1));
    let residual: Float32Array | null = null;
    const received = new Float32Array(d);
    for (const [r, delta] of deltas.entries()) {
      const out = encodeRoundUpload(delta, { roundId: r + 1, codec: 'f32', compression }, residual, sfc32(r));
      const got = bodyToDense(decodeFrame(out.frame, { dimension: d }).body);
      for (let i = 0; i < d; i++) received[i] = received[i]! + got[i]!;
      residual = out.residual;
    }
    for (let i = 0; i < d; i++) {
      expect(received[i]! + residual![i]!).toBeCloseTo(deltas[0]![i]! + deltas[1]![i]!, 5);
    }
  });

  it('clips the selected values to C and computes the clipping bit from their norm', () => {
    const d = 100;
    const delta = Float32Array.from({ length: d }, (_, i) => (i < 10 ? 3 : 0.001));
    const compression = { kind: 'randomk' as const, bits: 32 as const, k: 100, errorFeedback: true };
    const out = encodeRoundUpload(delta, { roundId: 1, codec: 'f32', compression, privacy }, null, sfc32(3));
    const sent = bodyToDense(decodeFrame(out.frame, { dimension: d }).body);
    expect(l2norm(sent)).toBeCloseTo(1, 5);
    expect(out.privacy).toMatchObject({ clipped: true, clipBit: 0 });
    // What clipping cut is kept for later.
    expect(out.residual![0]).toBeCloseTo(3 - sent[0]!, 5);
  });
});

describe('encodeRoundUpload with momentum correction', () => {
  it('keeps [residual, momentum, round] in one vector and decays the momentum over missed rounds', () => {
    const compression = {
      kind: 'topk' as const,
      bits: 32 as const,
      k: 1,
      errorFeedback: true,
      momentumCorrection: 0.5,
    };
    const first = encodeRoundUpload(
      Float32Array.from([1, -3, 2]),
      { roundId: 3, codec: 'f32', compression },
      null,
      sfc32(1),
    );
    // Sent coordinate 1; residual and momentum are [1, 0, 2]; the round is 3.
    expect(Array.from(first.residual!)).toEqual([1, 0, 2, 1, 0, 2, 3]);
    expect(unpackState(first.residual, 3)).toMatchObject({ round: 3 });
    // Back two rounds later (gap 2): u = 0.25 * [1, 0, 2] + 0 = [0.25, 0, 0.5];
    // v = [1, 0, 2] + u = [1.25, 0, 2.5]: coordinate 2 is sent, and masked in v and u.
    const second = encodeRoundUpload(
      new Float32Array(3),
      { roundId: 5, codec: 'f32', compression },
      first.residual,
      sfc32(2),
    );
    expect(Array.from(second.residual!)).toEqual([1.25, 0, 0, 0.25, 0, 0, 5]);
    // A plain residual (another setting before) or another dimension starts the momentum afresh.
    expect(unpackState(Float32Array.from([1, 2, 3]), 3)).toEqual({
      residual: Float32Array.from([1, 2, 3]),
      momentum: null,
      round: null,
    });
    expect(unpackState(Float32Array.from([1, 2]), 3)).toEqual({
      residual: null,
      momentum: null,
      round: null,
    });
    expect(Array.from(packState(Float32Array.from([1]), Float32Array.from([2]), 7))).toEqual([1, 2, 7]);
    // What a device's store is asked for (it drops a vector of another length).
    expect(stateLength({ compression }, 3)).toBe(7);
    expect(stateLength({ compression: { ...compression, momentumCorrection: undefined } }, 3)).toBe(3);
  });
});
