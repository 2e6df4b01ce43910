import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodecError } from './errors.ts';
import { bodyToDense, decodeFrame } from './frame-codec.ts';
import { sfc32 } from './prng.ts';
import { quantizationStep } from './quantize.ts';
import { sparseToDense } from './sparse.ts';
import { decodeUpload, encodeUpload, maxUploadBytes, type UploadPlan, uploadCodec } from './upload.ts';

const finite = { noNaN: true, noDefaultInfinity: true, min: -100, max: 100 } as const;
const KINDS = ['none', 'topk', 'randomk', 'shared'] as const;
const BITS = [32, 8, 4, 2] as const;

/** An update, a residual of its length (or none), and a plan for it. */
const cases = fc
  .integer({ min: 1, max: 200 })
  .chain((d) =>
    fc.tuple(
      fc.float32Array({ ...finite, minLength: d, maxLength: d }),
      fc.option(fc.float32Array({ ...finite, minLength: d, maxLength: d }), { nil: null }),
      fc.constantFrom(...KINDS),
      fc.constantFrom(...BITS),
      fc.constantFrom('f32' as const, 'f16' as const),
      fc.integer({ min: 0, max: d }),
      fc.boolean(),
      fc.integer({ min: 0, max: 0xffffffff }),
    ),
  )
  .map(([update, residual, kind, bits, precision, k, errorFeedback, seed]) => {
    const d = update.length;
    const coordinates = kind === 'shared' ? sharedSet(d, k, seed) : undefined;
    const plan: UploadPlan = {
      kind,
      bits,
      precision,
      k: kind === 'none' ? d : k,
      errorFeedback,
      ...(coordinates ? { coordinates } : {}),
    };
    return { update, residual, plan, seed };
  });

function sharedSet(d: number, k: number, seed: number): Uint32Array {
  const rng = sfc32(seed);
  const chosen = new Set<number>();
  while (chosen.size < k) chosen.add(Math.floor(rng() * d));
  return Uint32Array.from([...chosen].sort((a, b) => a - b));
}

function toDense(frame: Uint8Array, plan: UploadPlan, d: number): Float32Array {
  const decoded = decodeUpload(frame, plan, d);
  return decoded.kind === 'dense' ? decoded.values : sparseToDense(decoded.vector);
}

describe('encodeUpload and decodeUpload', () => {
  it('round trip within the quantizer bound, at most k values, and conserve mass under error feedback', () => {
    fc.assert(
      fc.property(cases, ({ update, residual, plan, seed }) => {
        const d = update.length;
        const out = encodeUpload(update, plan, { residual, rng: sfc32(seed) });
        expect(out.frame.byteLength).toBeLessThanOrEqual(maxUploadBytes(plan, d));
        expect(out.count).toBe(plan.kind === 'none' ? d : plan.k);
        const received = toDense(out.frame, plan, d);
        const input = Float32Array.from(update, (v, i) =>
          plan.errorFeedback && residual ? Math.fround(v + residual[i]!) : v,
        );
        // Sent coordinates are within one quantization step (or float16 rounding) of the input.
        let max = 0;
        for (let i = 0; i < d; i++) if (received[i] !== 0) max = Math.max(max, Math.abs(input[i]!));
        const bound =
          plan.bits === 32
            ? plan.precision === 'f16'
              ? max / 1024 + 1e-7
              : 0
            : quantizationStep(Math.fround(max), plan.bits) * (1 + 1e-6);
        for (let i = 0; i < d; i++) {
          if (received[i] !== 0) expect(Math.abs(received[i]! - input[i]!)).toBeLessThanOrEqual(bound);
        }
        if (plan.errorFeedback) {
          // What the server got plus what is kept is the update plus the previous residual.
          const kept = out.residual!;
          for (let i = 0; i < d; i++) {
            const tolerance = 1e-5 * Math.max(1, Math.abs(input[i]!));
            expect(Math.abs(received[i]! + kept[i]! - input[i]!)).toBeLessThanOrEqual(tolerance);
          }
        } else {
          expect(out.residual).toBeNull();
        }
      }),
      { numRuns: 400 },
    );
  });

  it('sends top-k: exactly the k largest in magnitude of the corrected update', () => {
    const update = Float32Array.from([0.1, -5, 0.3, 4, -0.2, 0, 2, -3]);
    const residual = Float32Array.from([0, 0, 0, -4, 0, 0, 0, 0]);
    const plan: UploadPlan = { kind: 'topk', bits: 32, precision: 'f32', k: 3, errorFeedback: true };
    const out = encodeUpload(update, plan, { residual, rng: sfc32(1) });
    const decoded = decodeUpload(out.frame, plan, 8);
    expect(decoded.kind === 'sparse' && Array.from(decoded.vector.indices)).toEqual([1, 6, 7]);
    expect(Array.from(out.residual!)).toEqual(Array.from(Float32Array.from([0.1, 0, 0.3, 0, -0.2, 0, 0, 0])));
  });

  it('applies privacy to the selected values only and keeps what clipping cut', () => {
    const update = Float32Array.from([3, 0, 4, 0.5]);
    const plan: UploadPlan = { kind: 'topk', bits: 32, precision: 'f32', k: 2, errorFeedback: true };
    const out = encodeUpload(update, plan, {
      rng: sfc32(1),
      privatize: (values) => {
        const clipped = values.map((v) => v / 5); // norm 5 clipped to 1
        return { sent: clipped, clipped };
      },
    });
    expect(Array.from(bodyToDense(decodeFrame(out.frame, { dimension: 4 }).body))).toEqual(
      Array.from(Float32Array.from([0.6, 0, 0.8, 0])),
    );
    expect(Array.from(out.residual!)).toEqual(Array.from(Float32Array.from([2.4, 0, 3.2, 0.5])));
  });

  it('refuses another codec, other shared coordinates, more than k values and another dimension', () => {
    const x = Float32Array.from({ length: 100 }, (_, i) => Math.sin(i));
    const plan = (p: Partial<UploadPlan>): UploadPlan => ({
      kind: 'topk',
      bits: 8,
      precision: 'f32',
      k: 10,
      errorFeedback: false,
      ...p,
    });
    const code = (fn: () => unknown): string => {
      try {
        fn();
        return 'ok';
      } catch (err) {
        return err instanceof CodecError ? err.code : 'other';
      }
    };
    const q8 = encodeUpload(x, plan({}), { rng: sfc32(1) }).frame;
    expect(uploadCodec(plan({}))).toBe('sparse-q8');
    expect(code(() => decodeUpload(q8, plan({ bits: 4 }), 100))).toBe('BAD_FRAME');
    expect(code(() => decodeUpload(q8, plan({ k: 9 }), 100))).toBe('PAYLOAD_TOO_LARGE');
    expect(code(() => decodeUpload(q8, plan({}), 101))).toBe('SHAPE_MISMATCH');
    const set = Uint32Array.from({ length: 10 }, (_, j) => j * 10);
    const shared = encodeUpload(x, plan({ kind: 'shared', coordinates: set }), { rng: sfc32(1) }).frame;
    const other = plan({ kind: 'shared', coordinates: Uint32Array.from(set, (i) => i + 1) });
    expect(code(() => decodeUpload(shared, other, 100))).toBe('BAD_FRAME');
    expect(code(() => decodeUpload(shared, plan({ kind: 'shared', coordinates: set }), 100))).toBe('ok');
  });

  it('decoders survive random and truncated frames with nothing but their own error', () => {
    const plans: UploadPlan[] = KINDS.flatMap((kind) =>
      BITS.map((bits) => ({
        kind,
        bits,
        precision: 'f16' as const,
        k: kind === 'none' ? 64 : 8,
        errorFeedback: true,
        ...(kind === 'shared' ? { coordinates: Uint32Array.from({ length: 8 }, (_, j) => 3 * j) } : {}),
      })),
    );
    const x = Float32Array.from({ length: 64 }, (_, i) => Math.cos(i));
    const valid = plans.map((p) => encodeUpload(x, p, { rng: sfc32(2) }).frame);
    const only = (fn: () => unknown): void => {
      try {
        fn();
      } catch (err) {
        expect(err).toBeInstanceOf(CodecError);
      }
    };
    for (const [i, f] of valid.entries()) {
      for (let n = 0; n < f.length; n++) {
        expect(() => decodeUpload(f.subarray(0, n), plans[i]!, 64)).toThrow(CodecError);
      }
    }
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: plans.length - 1 }),
        fc.integer({ min: 0, max: plans.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.uint8Array({ maxLength: 300 }),
        (which, against, edits, random) => {
          const bytes = valid[which]!.slice();
          for (const [at, v] of edits) bytes[at % bytes.length] = v;
          only(() => decodeUpload(bytes, plans[against]!, 64));
          only(() => decodeUpload(random, plans[against]!, 64));
        },
      ),
      { numRuns: 1500 },
    );
  });
});
