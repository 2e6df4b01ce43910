import { describe, expect, it } from 'vitest';
import { accumulate, clipUpdate, maskMomentum, warmupDensity } from './dgc.ts';
import { bodyToSparse, decodeFrame } from './frame-codec.ts';
import { sfc32 } from './prng.ts';
import { encodeUpload, type UploadPlan } from './upload.ts';

const f32 = (xs: readonly number[]): Float32Array => Float32Array.from(xs);
const list = (x: Float32Array | null): number[] => Array.from(x ?? []);

// Values are multiples of 1/4, so every step below is exact in float32 and the expected
// vectors are worked out by hand from DGC's algorithm (Lin et al. 2018, algorithm 4).
describe('accumulate (momentum correction)', () => {
  it('first round: u = delta, v = delta', () => {
    const out = accumulate(f32([1, -2, 0.5]), { factor: 0.5, gap: 1 });
    expect(list(out.momentum)).toEqual([1, -2, 0.5]);
    expect(list(out.accumulated)).toEqual([1, -2, 0.5]);
  });

  it('u = m^gap u + delta, v = v + u', () => {
    const out = accumulate(f32([1, 1, 1]), {
      residual: f32([0.25, 0, -1]),
      momentum: f32([2, -4, 0]),
      factor: 0.5,
      gap: 1,
    });
    // u = 0.5 * [2, -4, 0] + 1 = [2, -1, 1]; v = [0.25, 0, -1] + u = [2.25, -1, 0]
    expect(list(out.momentum)).toEqual([2, -1, 1]);
    expect(list(out.accumulated)).toEqual([2.25, -1, 0]);
  });

  it('a device away for 3 rounds finds its momentum decayed by m^3', () => {
    const out = accumulate(f32([0, 0]), { momentum: f32([8, -16]), factor: 0.5, gap: 3 });
    expect(list(out.momentum)).toEqual([1, -2]);
    expect(list(out.accumulated)).toEqual([1, -2]);
  });

  it('factor 0 is plain error feedback: no momentum, v + delta', () => {
    const out = accumulate(f32([1, 2]), { residual: f32([0.5, -0.5]), factor: 0, gap: 1 });
    expect(out.momentum).toBeNull();
    expect(list(out.accumulated)).toEqual([1.5, 1.5]);
  });

  it('clips the delta before it enters u and v', () => {
    // [3, 4] has norm 5: clipped to norm 1 it is [0.6, 0.8].
    const out = accumulate(f32([3, 4]), { momentum: f32([1, 1]), factor: 0.5, gap: 1, clipNorm: 1 });
    expect(list(out.momentum)).toEqual([Math.fround(0.5 + 0.6), Math.fround(0.5 + 0.8)]);
    expect(list(clipUpdate(f32([0.3, 0.4]), 1))).toEqual([Math.fround(0.3), Math.fround(0.4)]);
  });

  it('refuses a factor outside [0, 1) and a gap below 1', () => {
    expect(() => accumulate(f32([1]), { factor: 1, gap: 1 })).toThrow(/factor/);
    expect(() => accumulate(f32([1]), { factor: 0.5, gap: 0 })).toThrow(/gap/);
    expect(() => clipUpdate(f32([1]), 0)).toThrow(/clipNorm/);
  });

  it('masks the momentum where values were sent', () => {
    const u = f32([1, 2, 3, 4]);
    maskMomentum(u, Uint32Array.from([1, 3]));
    expect(list(u)).toEqual([1, 0, 3, 0]);
  });
});

describe('encodeUpload with DGC', () => {
  const plan: UploadPlan = {
    kind: 'topk',
    bits: 32,
    precision: 'f32',
    k: 1,
    errorFeedback: true,
    momentumCorrection: 0.5,
  };

  it('sends the top of v, zeroes v and u there, keeps the rest (two rounds by hand)', () => {
    // Round 1: u = v = [1, -3, 2]; top-1 is coordinate 1 (-3): sent; v = [1, 0, 2], u = [1, 0, 2].
    const first = encodeUpload(f32([1, -3, 2]), plan, { rng: sfc32(1) });
    const sent1 = bodyToSparse(decodeFrame(first.frame, { dimension: 3 }).body);
    expect(Array.from(sent1.indices)).toEqual([1]);
    expect(list(sent1.values)).toEqual([-3]);
    expect(list(first.residual)).toEqual([1, 0, 2]);
    expect(list(first.momentum)).toEqual([1, 0, 2]);
    // Round 2, delta [1, 1, 0]: u = 0.5 * [1, 0, 2] + [1, 1, 0] = [1.5, 1, 1];
    // v = [1, 0, 2] + u = [2.5, 1, 3]; top-1 is coordinate 2 (3): v = [2.5, 1, 0], u = [1.5, 1, 0].
    const second = encodeUpload(f32([1, 1, 0]), plan, {
      residual: first.residual,
      momentum: first.momentum,
      gap: 1,
      rng: sfc32(2),
    });
    const sent2 = bodyToSparse(decodeFrame(second.frame, { dimension: 3 }).body);
    expect(Array.from(sent2.indices)).toEqual([2]);
    expect(list(sent2.values)).toEqual([3]);
    expect(list(second.residual)).toEqual([2.5, 1, 0]);
    expect(list(second.momentum)).toEqual([1.5, 1, 0]);
  });

  it('with local clipping a stale residual stays bounded however large the deltas', () => {
    const d = 200;
    const clipped: UploadPlan = { ...plan, k: 2, momentumCorrection: 0.9, updateClipNorm: 1 };
    let residual: Float32Array | null = null;
    let momentum: Float32Array | null = null;
    const rng = sfc32(3);
    for (let round = 1; round <= 30; round++) {
      const delta = Float32Array.from({ length: d }, (_, i) => 1e6 * Math.sin(i * round + 1));
      const out = encodeUpload(delta, clipped, { residual, momentum, gap: 1, rng });
      residual = out.residual;
      momentum = out.momentum;
      // Each round adds u, whose norm is at most sum_s 0.9^s * 1 = 10; v holds 30 of them at most.
      let sq = 0;
      for (const v of residual!) sq += v * v;
      expect(Math.sqrt(sq)).toBeLessThanOrEqual(10 * round + 1e-3);
    }
  });

  it('without error feedback refuses DGC terms', () => {
    expect(() => encodeUpload(f32([1, 2]), { ...plan, errorFeedback: false }, { rng: sfc32(1) })).toThrow(
      /errorFeedback/,
    );
  });
});

describe('warmupDensity', () => {
  it('shrinks exponentially from the start to the target over the warm-up rounds, then stays', () => {
    // 0.25 to 0.001 over 4 rounds: ratio (0.004)^(1/4) per round.
    const step = (0.001 / 0.25) ** 0.25;
    expect(warmupDensity(0.001, 0.25, 4, 1)).toBe(0.25);
    expect(warmupDensity(0.001, 0.25, 4, 2)).toBeCloseTo(0.25 * step, 12);
    expect(warmupDensity(0.001, 0.25, 4, 3)).toBeCloseTo(0.25 * step ** 2, 12);
    expect(warmupDensity(0.001, 0.25, 4, 4)).toBeCloseTo(0.25 * step ** 3, 12);
    expect(warmupDensity(0.001, 0.25, 4, 5)).toBe(0.001);
    expect(warmupDensity(0.001, 0.25, 4, 50)).toBe(0.001);
    expect(warmupDensity(0.001, 0.25, 0, 1)).toBe(0.001);
    expect(warmupDensity(0.5, 0.25, 4, 1)).toBe(0.5);
  });
});
