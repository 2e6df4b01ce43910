import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodecError } from './errors.ts';
import { decodeExamples } from './examples.ts';
import { encodeFixedPoint, resolveFixedPoint } from './fixed-point.ts';
import { decodeDense, FRAME_HEADER_BYTES, FRAME_MAGIC } from './frame.ts';
import { decodeFrame, encodeFrame, type FrameBody } from './frame-codec.ts';
import { sfc32 } from './prng.ts';
import { dequantize, quantize } from './quantize.ts';
import { topK } from './topk.ts';
import { decodeSortedIndices } from './varint.ts';

/**
 * Every decoder, given arbitrary bytes, returns or throws a CodecError: never a RangeError
 * from a DataView, never a TypeError, never an allocation the limits did not allow.
 */
const DECODERS: [string, (bytes: Uint8Array) => unknown][] = [
  ['decodeFrame', (b) => decodeFrame(b, { maxDimension: 1 << 16, maxBytes: 1 << 20 })],
  ['decodeFrame with a dimension', (b) => decodeFrame(b, { dimension: 64 })],
  ['decodeDense', (b) => decodeDense(b, { maxDimension: 1 << 16 })],
  ['decodeExamples', (b) => decodeExamples(b)],
  ['decodeSortedIndices', (b) => decodeSortedIndices(b, b[0] ?? 0, 1000)],
  [
    'dequantize',
    (b) =>
      dequantize({
        bits: ([2, 4, 8] as const)[(b[0] ?? 0) % 3]!,
        length: b[1] ?? 0,
        scale: 1,
        packed: b.subarray(2),
      }),
  ],
];

function onlyCodecErrors(bytes: Uint8Array): void {
  for (const [, decode] of DECODERS) {
    try {
      decode(bytes);
    } catch (err) {
      expect(err).toBeInstanceOf(CodecError);
    }
  }
}

/** Valid frames of every codec, to truncate and corrupt. */
function sampleFrames(): Uint8Array[] {
  const rng = sfc32(99);
  const x = Float32Array.from({ length: 64 }, () => rng() * 2 - 1);
  const sparse = topK(x, 9);
  const { range, scale } = resolveFixedPoint({ range: 1, bits: 12 });
  const bodies: FrameBody[] = [
    { kind: 'dense', precision: 'f32', values: x },
    { kind: 'dense', precision: 'f16', values: x },
    { kind: 'sparse', precision: 'f32', vector: sparse },
    { kind: 'sparse', precision: 'f16', vector: sparse },
    { kind: 'fixed-point', values: encodeFixedPoint(x, { range, scale }), range, scale },
  ];
  for (const bits of [2, 4, 8] as const) {
    bodies.push({ kind: 'quantized', quantized: quantize(x, bits, rng) });
    const quantized = quantize(sparse.values, bits, rng);
    bodies.push({ kind: 'sparse-quantized', dimension: 64, indices: sparse.indices, quantized });
  }
  return bodies.map((body) => encodeFrame(body, { round: 3, taskTag: 5 }));
}

describe('decoder fuzzing', () => {
  const frames = sampleFrames();

  it('decodes every sample frame', () => {
    for (const f of frames) expect(decodeFrame(f, { dimension: 64 }).round).toBe(3);
  });

  it('survives random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), onlyCodecErrors), { numRuns: 500 });
  });

  it('survives random bodies behind a plausible header', () => {
    const header = fc
      .tuple(
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 0, max: 80 }),
        fc.integer({ min: 0, max: 80 }),
      )
      .chain(([codec, dimension, count]) =>
        fc.tuple(
          fc.constant([codec, dimension, count] as const),
          fc.uint8Array({ maxLength: 400 }),
          fc.float(),
        ),
      );
    fc.assert(
      fc.property(header, ([[codec, dimension, count], body, scale]) => {
        const bytes = new Uint8Array(FRAME_HEADER_BYTES + body.length);
        const view = new DataView(bytes.buffer);
        view.setUint32(0, FRAME_MAGIC, true);
        view.setUint8(4, 1);
        view.setUint8(5, codec);
        view.setUint32(8, dimension, true);
        view.setUint32(12, count, true);
        view.setFloat32(24, scale, true);
        view.setUint32(28, body.length, true);
        bytes.set(body, FRAME_HEADER_BYTES);
        onlyCodecErrors(bytes);
      }),
      { numRuns: 1500 },
    );
  });

  it('refuses every truncation of every valid frame', () => {
    for (const f of frames) {
      for (let n = 0; n < f.length; n++) {
        const cut = f.subarray(0, n);
        onlyCodecErrors(cut);
        expect(() => decodeFrame(cut, { dimension: 64 })).toThrow(CodecError);
      }
    }
  });

  it('survives corrupted bytes and appended garbage in valid frames', () => {
    const mutation = fc.tuple(
      fc.integer({ min: 0, max: frames.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      fc.uint8Array({ maxLength: 3 }),
    );
    fc.assert(
      fc.property(mutation, ([which, edits, tail]) => {
        const f = frames[which]!;
        const bytes = new Uint8Array(f.length + tail.length);
        bytes.set(f);
        bytes.set(tail, f.length);
        for (const [at, value] of edits) bytes[at % f.length] = value;
        onlyCodecErrors(bytes);
        if (tail.length > 0) expect(() => decodeFrame(bytes, { dimension: 64 })).toThrow(CodecError);
      }),
      { numRuns: 1000 },
    );
  });
});
