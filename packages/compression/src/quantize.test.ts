import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodecError } from './errors.ts';
import { sfc32 } from './prng.ts';
import {
  dequantize,
  type QuantBits,
  quantizationLevels,
  quantizationStep,
  quantize,
  validateQuantized,
} from './quantize.ts';

const bitsArb = fc.constantFrom<QuantBits>(2, 4, 8);
const vectors = fc.float32Array({ noNaN: true, noDefaultInfinity: true, maxLength: 200 });

describe('stochastic quantization', () => {
  it('has 1, 7 and 127 levels a side at 2, 4 and 8 bits', () => {
    expect([2, 4, 8].map((b) => quantizationLevels(b as QuantBits))).toEqual([1, 7, 127]);
  });

  it('round trips within one grid step, keeping zeros and the ends exact', () => {
    fc.assert(
      fc.property(vectors, bitsArb, fc.nat(), (x, bits, seed) => {
        const q = quantize(x, bits, sfc32(seed));
        expect(q.packed.length).toBe(Math.ceil((x.length * bits) / 8));
        const y = dequantize(q);
        const step = quantizationStep(q.scale, bits);
        for (let i = 0; i < x.length; i++) {
          // One step, plus the float32 rounding of the output.
          expect(Math.abs(y[i]! - x[i]!)).toBeLessThanOrEqual(
            step * (1 + 1e-6) + q.scale * 2 ** -23 + 2 ** -149,
          );
          // Exact, up to the sign of zero (adding 0 turns -0 into +0; toBe compares by Object.is).
          if (x[i] === 0) expect(y[i]! + 0).toBe(0);
          if (Math.abs(x[i]!) === q.scale) expect(y[i]! + 0).toBe(x[i]! + 0);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('is unbiased: the mean of many draws converges to x', () => {
    const draws = 3000;
    fc.assert(
      fc.property(
        fc.float32Array({
          noNaN: true,
          noDefaultInfinity: true,
          min: -10,
          max: 10,
          minLength: 1,
          maxLength: 16,
        }),
        bitsArb,
        fc.nat(),
        (x, bits, seed) => {
          const rng = sfc32(seed);
          const mean = new Float64Array(x.length);
          let scale = 0;
          for (let t = 0; t < draws; t++) {
            const q = quantize(x, bits, rng);
            scale = q.scale;
            const y = dequantize(q);
            for (let i = 0; i < x.length; i++) mean[i]! += y[i]! / draws;
          }
          // Per-draw std is at most step / 2, so the mean's is step / (2 sqrt(draws)); allow 6 of
          // them, plus the float32 rounding of the outputs (subnormals included).
          const tolerance =
            (6 * quantizationStep(scale, bits)) / (2 * Math.sqrt(draws)) + 1e-6 * scale + 2 ** -149;
          for (let i = 0; i < x.length; i++)
            expect(Math.abs(mean[i]! - x[i]!)).toBeLessThanOrEqual(tolerance);
        },
      ),
      { numRuns: 12 },
    );
  });

  it('matches a hand-worked example', () => {
    // M = 4, h = 1 at 2 bits: u = x / 4 = [1, -0.5, 0.25, 0]; draws [0.9, 0.4, 0.3, 0.5].
    const draws = [0.9, 0.4, 0.3, 0.5];
    const q = quantize(Float32Array.of(4, -2, 1, 0), 2, () => draws.shift()!);
    // levels [1, -1 + (0.4 < 0.5), 0 + (0.3 < 0.25), 0] = [1, 0, 0, 0] -> codes [2, 1, 1, 1].
    expect(q.scale).toBe(4);
    expect([...q.packed]).toEqual([0b01_01_01_10]);
    expect([...dequantize(q)]).toEqual([4, 0, 0, 0]);
  });

  it('quantizes an all-zero vector to zeros', () => {
    const q = quantize(new Float32Array(5), 4, sfc32(1));
    expect(q.scale).toBe(0);
    expect([...dequantize(q)]).toEqual([0, 0, 0, 0, 0]);
  });

  it('refuses non-finite input and unsupported widths', () => {
    expect(() => quantize(Float32Array.of(1, Number.POSITIVE_INFINITY), 8, sfc32(1))).toThrow(/"x\[1\]"/);
    expect(() => quantize(Float32Array.of(1), 3 as QuantBits, sfc32(1))).toThrow(/"bits" expected 2, 4 or 8/);
  });

  it.each([
    ['a code off the grid', { bits: 2, length: 1, scale: 1, packed: Uint8Array.of(3) }],
    ['non-zero padding', { bits: 4, length: 1, scale: 1, packed: Uint8Array.of(0x11) }],
    ['a negative scale', { bits: 8, length: 1, scale: -1, packed: Uint8Array.of(0) }],
    ['a short buffer', { bits: 8, length: 2, scale: 1, packed: Uint8Array.of(0) }],
    ['code 255 at 8 bits', { bits: 8, length: 1, scale: 1, packed: Uint8Array.of(255) }],
  ] as const)('refuses %s from the wire', (_, q) => {
    expect(() => validateQuantized(q)).toThrow(CodecError);
    expect(() => dequantize(q)).toThrow(expect.objectContaining({ code: 'BAD_FRAME' }));
  });
});
