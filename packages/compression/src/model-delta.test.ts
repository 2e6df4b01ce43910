import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodecError } from './errors.ts';
import { encodeDense } from './frame.ts';
import { encodeFrame } from './frame-codec.ts';
import {
  applyModelDelta,
  applyModelDeltas,
  type DeltaBits,
  encodeModelDelta,
  type ModelDeltaSettings,
} from './model-delta.ts';
import { sfc32 } from './prng.ts';
import { quantizationStep, quantize } from './quantize.ts';

const finite = { noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 } as const;
const pairs = fc
  .integer({ min: 1, max: 120 })
  .chain((n) =>
    fc.tuple(
      fc.float32Array({ ...finite, minLength: n, maxLength: n }),
      fc.float32Array({ ...finite, minLength: n, maxLength: n }),
    ),
  );

function randomVector(n: number, seed: number, spread = 1): Float32Array {
  const rng = sfc32(seed);
  return Float32Array.from({ length: n }, () => (rng() * 2 - 1) * spread);
}

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CodecError);
    expect((err as CodecError).code).toBe(code);
    return;
  }
  throw new Error(`expected CodecError ${code}`);
}

describe('model deltas', () => {
  it('are lossless at 32 bits with every coordinate: the device rebuilds the target bit for bit', () => {
    fc.assert(
      fc.property(pairs, ([target, reference]) => {
        const { frame, reconstructed } = encodeModelDelta(target, reference, { bits: 32, fraction: 1 });
        const device = applyModelDelta(reference, frame);
        expect(new Uint8Array(device.buffer)).toEqual(new Uint8Array(target.buffer));
        expect(new Uint8Array(reconstructed.buffer)).toEqual(new Uint8Array(target.buffer));
      }),
      { numRuns: 200 },
    );
  });

  it('agree bit for bit between coordinator and device for every setting', () => {
    const bitsArb = fc.constantFrom<DeltaBits>(32, 16, 8, 4);
    const fractionArb = fc.constantFrom(1, 0.5, 0.1, 0.01);
    fc.assert(
      fc.property(pairs, bitsArb, fractionArb, ([target, reference], bits, fraction) => {
        const { frame, reconstructed } = encodeModelDelta(target, reference, { bits, fraction });
        const device = applyModelDelta(reference, frame);
        expect(new Uint8Array(device.buffer)).toEqual(new Uint8Array(reconstructed.buffer));
      }),
      { numRuns: 300 },
    );
  });

  it('are deterministic', () => {
    const target = randomVector(500, 1);
    const reference = randomVector(500, 2);
    const settings: ModelDeltaSettings = { bits: 8, fraction: 0.1 };
    expect(encodeModelDelta(target, reference, settings).frame).toEqual(
      encodeModelDelta(target, reference, settings).frame,
    );
  });

  it('quantized: every coordinate within half a grid step of the target (plus float32 rounding)', () => {
    for (const bits of [8, 4] as const) {
      const reference = randomVector(1000, 3);
      const step = randomVector(1000, 4, 0.01);
      const target = Float32Array.from(reference, (r, i) => r + step[i]!);
      const { reconstructed } = encodeModelDelta(target, reference, { bits, fraction: 1 });
      let scale = 0;
      for (let i = 0; i < target.length; i++) scale = Math.max(scale, Math.abs(target[i]! - reference[i]!));
      const bound = quantizationStep(scale, bits) / 2 + 2 ** -22;
      for (let i = 0; i < target.length; i++) {
        expect(Math.abs(reconstructed[i]! - target[i]!)).toBeLessThanOrEqual(bound);
      }
    }
  });

  it('top-k: sends the largest differences, leaves the rest, and error feedback closes the gap', () => {
    const w = randomVector(1000, 5);
    let held: Float32Array = new Float32Array(1000);
    const settings: ModelDeltaSettings = { bits: 32, fraction: 0.1 };
    const first = encodeModelDelta(w, held, settings);
    let changed = 0;
    for (let i = 0; i < 1000; i++) if (first.reconstructed[i] !== 0) changed++;
    expect(changed).toBe(100);
    // The same target again: each version sends the next 10% of what is still missing, so
    // ten versions bring the broadcast model to the target exactly.
    held = first.reconstructed;
    for (let v = 2; v <= 10; v++) held = encodeModelDelta(w, held, settings).reconstructed;
    expect(held).toEqual(w);
  });

  it('are smaller than the dense model by the expected factor', () => {
    const reference = randomVector(10_000, 6);
    const step = randomVector(10_000, 7, 0.01);
    const target = Float32Array.from(reference, (r, i) => r + step[i]!);
    const dense = encodeDense(target, 'f32').length;
    const q4 = encodeModelDelta(target, reference, { bits: 4, fraction: 1 }).frame.length;
    const sparse = encodeModelDelta(target, reference, { bits: 8, fraction: 0.01 }).frame.length;
    expect(dense / q4).toBeGreaterThan(7.9);
    expect(dense / sparse).toBeGreaterThan(150);
  });

  it('apply a chain in order and refuse one out of order', () => {
    const v0 = randomVector(64, 8);
    const v1 = randomVector(64, 9);
    const v2 = randomVector(64, 10);
    const d1 = encodeModelDelta(v1, v0, { bits: 16, fraction: 0.5 }, { round: 1 });
    const d2 = encodeModelDelta(v2, d1.reconstructed, { bits: 16, fraction: 0.5 }, { round: 2 });
    expect(applyModelDeltas(v0, [d1.frame, d2.frame], 0)).toEqual(d2.reconstructed);
    expectCode(() => applyModelDeltas(v0, [d2.frame, d1.frame], 0), 'BAD_FRAME');
  });

  it('refuse bad frames from the network', () => {
    const reference = randomVector(32, 11);
    const { frame } = encodeModelDelta(randomVector(32, 12), reference, { bits: 8, fraction: 0.5 });
    expectCode(() => applyModelDelta(randomVector(31, 1), frame), 'SHAPE_MISMATCH');
    expectCode(() => applyModelDelta(reference, frame.subarray(0, frame.length - 1)), 'BAD_FRAME');
    expectCode(() => applyModelDelta(reference, frame.subarray(0, 10)), 'BAD_FRAME');
    expectCode(() => applyModelDelta(reference, frame, { maxBytes: 40 }), 'PAYLOAD_TOO_LARGE');
    const nan = encodeDense(
      Float32Array.from(reference, () => Number.NaN),
      'f32',
    );
    expectCode(() => applyModelDelta(reference, nan), 'NON_FINITE');
    const q2 = encodeFrame({
      kind: 'quantized',
      quantized: { bits: 2, length: 32, scale: 1, packed: new Uint8Array(8) },
    });
    expectCode(() => applyModelDelta(reference, q2), 'BAD_FRAME');
    const big = new Float32Array(32).fill(3.4e38);
    const huge = encodeFrame({ kind: 'quantized', quantized: quantize(big, 8, () => 0.5) });
    expectCode(() => applyModelDelta(big, huge), 'NON_FINITE');
  });

  it('refuse bad arguments', () => {
    const x = randomVector(8, 13);
    expectCode(() => encodeModelDelta(x, randomVector(7, 1), { bits: 32, fraction: 1 }), 'SHAPE_MISMATCH');
    expectCode(() => encodeModelDelta(x, x, { bits: 2 as DeltaBits, fraction: 1 }), 'INVALID_ARGUMENT');
    expectCode(() => encodeModelDelta(x, x, { bits: 32, fraction: 0 }), 'INVALID_ARGUMENT');
    const nan = Float32Array.from(x);
    nan[3] = Number.NaN;
    expectCode(() => encodeModelDelta(nan, x, { bits: 32, fraction: 1 }), 'INVALID_ARGUMENT');
  });
});
