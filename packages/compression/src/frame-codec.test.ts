import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodecError } from './errors.ts';
import { encodeFixedPoint, resolveFixedPoint } from './fixed-point.ts';
import { decodeDense, encodeDense, FRAME_HEADER_BYTES } from './frame.ts';
import { bodyToDense, bodyToSparse, decodeFrame, encodeFrame, type FrameBody } from './frame-codec.ts';
import { FRAME_CODECS } from './frame-header.ts';
import { sfc32 } from './prng.ts';
import { type QuantBits, quantizationStep, quantize } from './quantize.ts';
import { sparseToDense } from './sparse.ts';
import { topK } from './topk.ts';

const meta = { round: 7, taskTag: 0xdeadbeef };
const finite = fc.float32Array({ noNaN: true, noDefaultInfinity: true, min: -1e4, max: 1e4, maxLength: 120 });
const withK = finite.chain((x) => fc.tuple(fc.constant(x), fc.integer({ min: 0, max: x.length })));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof CodecError) return err.code;
    throw err;
  }
  return undefined;
}

describe('encodeFrame / decodeFrame', () => {
  it('writes dense f32 and f16 frames byte for byte as encodeDense does', () => {
    const x = Float32Array.of(1, -2.5, 1e5, 0);
    expect(encodeFrame({ kind: 'dense', precision: 'f32', values: x }, meta)).toEqual(
      encodeDense(x, 'f32', meta),
    );
    expect(encodeFrame({ kind: 'dense', precision: 'f16', values: x }, meta)).toEqual(
      encodeDense(x, 'f16', meta),
    );
    const f16 = decodeDense(encodeDense(x, 'f16'), { dimension: 4 }).vector;
    expect([...f16]).toEqual([1, -2.5, 65504, 0]);
  });

  it('round trips dense and sparse float bodies with their metadata', () => {
    fc.assert(
      fc.property(withK, fc.constantFrom('f32', 'f16' as const), ([x, k], precision) => {
        const sparse = topK(x, k);
        for (const body of [
          { kind: 'dense', precision, values: x },
          { kind: 'sparse', precision, vector: sparse },
        ] satisfies FrameBody[]) {
          const frame = decodeFrame(encodeFrame(body, meta), { dimension: x.length });
          expect(frame.round).toBe(7);
          expect(frame.taskTag).toBe(0xdeadbeef);
          const got = bodyToDense(frame.body);
          const want = body.kind === 'dense' ? x : sparseToDense(sparse);
          for (let i = 0; i < x.length; i++) {
            // float16 keeps 11 significant bits, and flushes below its smallest subnormal, 2^-24.
            const tolerance = precision === 'f32' ? 0 : Math.max(Math.abs(want[i]!) * 2 ** -11, 2 ** -25);
            expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(tolerance);
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('round trips quantized bodies within the quantizer bound', () => {
    fc.assert(
      fc.property(withK, fc.constantFrom<QuantBits>(2, 4, 8), fc.nat(), ([x, k], bits, seed) => {
        const rng = sfc32(seed);
        const sparse = topK(x, k);
        const dense = quantize(x, bits, rng);
        const sq = quantize(sparse.values, bits, rng);
        const bodies: FrameBody[] = [
          { kind: 'quantized', quantized: dense },
          { kind: 'sparse-quantized', dimension: x.length, indices: sparse.indices, quantized: sq },
        ];
        for (const body of bodies) {
          const bytes = encodeFrame(body, meta);
          const frame = decodeFrame(bytes, { maxDimension: 1000 });
          expect(frame.codec).toBe(body.kind === 'quantized' ? `q${bits}` : `sparse-q${bits}`);
          const got = bodyToDense(frame.body);
          const want = body.kind === 'quantized' ? x : sparseToDense(sparse);
          const step = quantizationStep((body.kind === 'quantized' ? dense : sq).scale, bits);
          for (let i = 0; i < x.length; i++) {
            expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(step * (1 + 1e-6) + 1e-30);
          }
        }
        const s = bodyToSparse(decodeFrame(encodeFrame(bodies[1]!), { dimension: x.length }).body);
        expect(s.indices).toEqual(sparse.indices);
      }),
      { numRuns: 150 },
    );
  });

  it('round trips fixed-point bodies with range and scale in the frame', () => {
    const { range, scale } = resolveFixedPoint({ range: 0.1, bits: 16 });
    const values = encodeFixedPoint(Float32Array.of(0.05, -0.1, 1), { range, scale });
    const frame = decodeFrame(encodeFrame({ kind: 'fixed-point', values, range, scale }), { dimension: 3 });
    expect(frame.codec).toBe('fixed32');
    expect(frame.body).toEqual({ kind: 'fixed-point', values, range, scale });
    expect(() => bodyToDense(frame.body)).toThrow(/decodeFixedPointSum/);
  });

  it('is compact: 1% top-k at 8 bits costs about 2.3 bytes a coordinate sent', () => {
    const rng = sfc32(2);
    const x = Float32Array.from({ length: 100_000 }, () => rng() - 0.5);
    const sparse = topK(x, 1000);
    const bytes = encodeFrame({
      kind: 'sparse-quantized',
      dimension: x.length,
      indices: sparse.indices,
      quantized: quantize(sparse.values, 8, rng),
    });
    // One byte of code, and a gap of ~100 takes one varint byte below 128, two above.
    expect(bytes.length).toBeLessThan(FRAME_HEADER_BYTES + 2.4 * 1000);
    expect((4 * x.length) / bytes.length).toBeGreaterThan(165);
  });

  it('refuses to encode what it could not decode', () => {
    const x = Float32Array.of(1, Number.NaN);
    expect(codeOf(() => encodeFrame({ kind: 'dense', precision: 'f32', values: x }))).toBe(
      'INVALID_ARGUMENT',
    );
    const unsorted = { dimension: 4, indices: Uint32Array.of(2, 1), values: Float32Array.of(1, 1) };
    expect(codeOf(() => encodeFrame({ kind: 'sparse', precision: 'f32', vector: unsorted }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(
      codeOf(() => encodeFrame({ kind: 'dense', precision: 'f32', values: x.subarray(0, 1) }, { round: -1 })),
    ).toBe('INVALID_ARGUMENT');
    const q = { bits: 4, length: 1, scale: 0.1, packed: Uint8Array.of(1) } as const;
    expect(codeOf(() => encodeFrame({ kind: 'quantized', quantized: q }))).toBe('INVALID_ARGUMENT');
  });
});

describe('decodeFrame refuses before allocating', () => {
  const x = Float32Array.from({ length: 50 }, (_, i) => i - 25);
  const sparse = encodeFrame({ kind: 'sparse', precision: 'f32', vector: topK(x, 10) }, meta);

  it('requires a dimension or a bound', () => {
    expect(codeOf(() => decodeFrame(sparse, {}))).toBe('INVALID_ARGUMENT');
  });

  it.each([
    ['too many bytes', { dimension: 50, maxBytes: 40 }, 'PAYLOAD_TOO_LARGE'],
    ['another dimension', { dimension: 49 }, 'SHAPE_MISMATCH'],
    ['too large a dimension', { maxDimension: 49 }, 'PAYLOAD_TOO_LARGE'],
    ['too many values', { dimension: 50, maxCount: 9 }, 'PAYLOAD_TOO_LARGE'],
    ['a codec not accepted', { dimension: 50, codecs: ['f32'] as const }, 'BAD_FRAME'],
  ])('%s', (_, limits, code) => {
    expect(codeOf(() => decodeFrame(sparse, limits))).toBe(code);
  });

  it.each([
    ['an unknown codec', 5, 99],
    ['a future version', 4, 2],
    ['reserved flags', 6, 1],
    ['a count above the dimension', 12, 60],
    ['a wrong body length', 28, 3],
  ])('a header with %s', (_, offset, value) => {
    const bad = sparse.slice();
    bad[offset] = value;
    expect(codeOf(() => decodeFrame(bad, { maxDimension: 1000 }))).toBe('BAD_FRAME');
  });

  it('a dense frame whose count is not its dimension, or carrying NaN', () => {
    const dense = encodeFrame({ kind: 'dense', precision: 'f32', values: x });
    const bad = dense.slice();
    new DataView(bad.buffer).setUint32(12, 49, true);
    expect(codeOf(() => decodeFrame(bad, { dimension: 50 }))).toBe('BAD_FRAME');
    const nan = dense.slice();
    new DataView(nan.buffer).setFloat32(FRAME_HEADER_BYTES + 8, Number.NaN, true);
    expect(codeOf(() => decodeFrame(nan, { dimension: 50 }))).toBe('NON_FINITE');
  });

  it('reads frames at any byte offset', () => {
    const padded = new Uint8Array(sparse.length + 3);
    padded.set(sparse, 3);
    const frame = decodeFrame(padded.subarray(3), { dimension: 50 });
    expect(bodyToSparse(frame.body)).toEqual(topK(x, 10));
  });

  it('covers every codec id', () => {
    expect(Object.values(FRAME_CODECS)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });
});
