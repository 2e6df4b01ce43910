import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { accumulateSparse } from './accumulate.ts';
import { CodecError } from './errors.ts';
import { decodeDense, encodeDense } from './frame.ts';
import { checkUpload, foldDense } from './intake.ts';
import { sfc32 } from './prng.ts';
import { decodeUpload, encodeUpload, type UploadPlan } from './upload.ts';

const finite = { noNaN: true, noDefaultInfinity: true, min: -1e4, max: 1e4 } as const;

/** An update and a plan for it (null: a dense frame of the task's float codec). */
const cases = fc
  .integer({ min: 1, max: 200 })
  .chain((d) =>
    fc.tuple(
      fc.float32Array({ ...finite, minLength: d, maxLength: d }),
      fc.constantFrom('null', 'none', 'topk', 'randomk', 'shared'),
      fc.constantFrom(32, 8, 4, 2),
      fc.constantFrom('f32' as const, 'f16' as const),
      fc.integer({ min: 0, max: d }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.double({ min: 0.5, max: 1000, noNaN: true }),
    ),
  )
  .map(([update, kind, bits, precision, k, seed, weight]) => {
    const d = update.length;
    const coordinates =
      kind === 'shared'
        ? Uint32Array.from({ length: k }, (_, j) => Math.floor((j * d) / Math.max(k, 1)))
        : null;
    const unique = coordinates ? Uint32Array.from(new Set(coordinates)) : undefined;
    const plan: UploadPlan | null =
      kind === 'null'
        ? null
        : {
            kind,
            bits: bits as UploadPlan['bits'],
            precision,
            k: kind === 'none' ? d : unique ? unique.length : k,
            errorFeedback: false,
            ...(unique ? { coordinates: unique } : {}),
          };
    const frame =
      plan === null ? encodeDense(update, precision) : encodeUpload(update, plan, { rng: sfc32(seed) }).frame;
    return { update, plan, frame, weight };
  });

/** The steps one at a time: decode (copying), check every value, norm, fold. */
function stepByStep(frame: Uint8Array, plan: UploadPlan | null, sum: Float64Array, weight: number): number {
  const d = sum.length;
  if (plan === null) {
    const { vector } = decodeDense(frame, { dimension: d });
    for (const v of vector) if (!Number.isFinite(v)) throw new Error('non-finite');
    let s = 0;
    for (const v of vector) s += v * v;
    for (let i = 0; i < d; i++) sum[i] = sum[i]! + weight * vector[i]!;
    return Math.sqrt(s);
  }
  const decoded = decodeUpload(frame, plan, d);
  const values = decoded.kind === 'dense' ? decoded.values : decoded.vector.values;
  let s = 0;
  for (const v of values) s += v * v;
  if (decoded.kind === 'dense') for (let i = 0; i < d; i++) sum[i] = sum[i]! + weight * values[i]!;
  else accumulateSparse(sum, decoded.vector, weight);
  return Math.sqrt(s);
}

function fused(frame: Uint8Array, plan: UploadPlan | null, sum: Float64Array, weight: number): number {
  const { delta, norm } = checkUpload(frame, plan, sum.length);
  if (delta instanceof Float32Array) foldDense(sum, delta, weight);
  else accumulateSparse(sum, delta, weight);
  return norm;
}

/** The same bytes at an odd offset of a larger buffer, as a socket may hand them over. */
function misaligned(frame: Uint8Array): Uint8Array {
  const big = new Uint8Array(frame.length + 1);
  big.set(frame, 1);
  return big.subarray(1);
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof CodecError) return err.code;
    throw err;
  }
  return undefined;
}

describe('checkUpload', () => {
  it('gives the sum and norm of decode, check, norm, fold done one step at a time, aligned or not', () => {
    fc.assert(
      fc.property(cases, ({ update, plan, frame, weight }) => {
        const d = update.length;
        for (const bytes of [frame, misaligned(frame)]) {
          const start = Float64Array.from({ length: d }, (_, i) => i * 0.25);
          const expected = Float64Array.from(start);
          const got = Float64Array.from(start);
          const norm = stepByStep(bytes, plan, expected, weight);
          // The same squares, summed in another order: equal up to float64 rounding.
          expect(Math.abs(fused(bytes, plan, got, weight) - norm)).toBeLessThanOrEqual(1e-12 * norm);
          expect(got).toEqual(expected);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('returns a view of an aligned float32 frame instead of a copy', () => {
    const frame = encodeDense(Float32Array.of(1, 2, 2), 'f32');
    const { delta, norm } = checkUpload(frame, null, 3);
    expect(norm).toBe(3);
    expect((delta as Float32Array).buffer).toBe(frame.buffer);
  });

  it('refuses a non-finite value anywhere with NON_FINITE naming its index, in f32 and f16', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }).chain((d) => fc.tuple(fc.constant(d), fc.nat(d - 1))),
        fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
        fc.constantFrom('f32' as const, 'f16' as const),
        ([d, at], bad, codec) => {
          const update = new Float32Array(d).fill(0.5);
          update[at] = bad;
          const frame = encodeDense(update, codec);
          expect(() => checkUpload(frame, null, d)).toThrow(`frame value ${at} is not finite`);
          expect(codeOf(() => checkUpload(frame, null, d))).toBe('NON_FINITE');
        },
      ),
    );
  });

  it('refuses another dimension, a truncated body, another codec and an off-grid quantization code', () => {
    const update = Float32Array.of(0.5, -0.25, 1, 0);
    const f32 = encodeDense(update, 'f32');
    expect(codeOf(() => checkUpload(f32, null, 5))).toBe('SHAPE_MISMATCH');
    expect(codeOf(() => checkUpload(f32.subarray(0, f32.length - 4), null, 4))).toBe('BAD_FRAME');
    const q8: UploadPlan = { kind: 'none', bits: 8, precision: 'f32', k: 4, errorFeedback: false };
    const q2: UploadPlan = { ...q8, bits: 2 };
    const packed = encodeUpload(update, q2, { rng: sfc32(1) }).frame.slice();
    expect(codeOf(() => checkUpload(packed, q8, 4))).toBe('BAD_FRAME');
    const frame = encodeUpload(update, q8, { rng: sfc32(1) }).frame.slice();
    frame[32] = 255; // h = 127: codes above 254 are off the grid
    expect(codeOf(() => checkUpload(frame, q8, 4))).toBe('BAD_FRAME');
    packed[32] = 0xff; // code 3 is off the 2-bit grid {0, 1, 2}
    expect(codeOf(() => checkUpload(packed, q2, 4))).toBe('BAD_FRAME');
  });

  it('refuses a frame over the plan size before reading it', () => {
    const plan: UploadPlan = { kind: 'topk', bits: 32, precision: 'f32', k: 2, errorFeedback: false };
    const frame = encodeUpload(Float32Array.of(1, 2, 3, 4, 5, 6), { ...plan, k: 6 }, { rng: sfc32(1) }).frame;
    expect(codeOf(() => checkUpload(frame, plan, 6))).toBe('PAYLOAD_TOO_LARGE');
  });
});

describe('foldDense', () => {
  it('refuses a vector of another length', () => {
    expect(codeOf(() => foldDense(new Float64Array(3), new Float32Array(2), 1))).toBe('SHAPE_MISMATCH');
  });
});
