import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodecError } from './errors.ts';
import { decodeExamples, encodeExamples } from './examples.ts';
import { fromHalfBits, HALF_MAX, toHalfBits } from './float16.ts';
import { decodeDense, encodeDense, FRAME_HEADER_BYTES } from './frame.ts';

const floats = fc.float32Array({ noNaN: true, noDefaultInfinity: true, maxLength: 300 });

describe('dense frames', () => {
  it('round-trip float32 exactly', () => {
    fc.assert(
      fc.property(floats, fc.nat(), (x, round) => {
        const frame = encodeDense(x, 'f32', { round: round >>> 0, taskTag: 7 });
        expect(frame.byteLength).toBe(FRAME_HEADER_BYTES + 4 * x.length);
        const decoded = decodeDense(frame, { dimension: x.length });
        expect(decoded.vector).toEqual(x);
        expect(decoded.round).toBe(round >>> 0);
        expect(decoded.taskTag).toBe(7);
      }),
    );
  });

  it('round-trip float16 within half a unit in the last place', () => {
    fc.assert(
      fc.property(fc.float32Array({ min: -HALF_MAX, max: HALF_MAX, noNaN: true, maxLength: 300 }), (x) => {
        const decoded = decodeDense(encodeDense(x, 'f16')).vector;
        x.forEach((v, i) => {
          const tolerance = Math.max(Math.abs(v) * 2 ** -11, 2 ** -25);
          expect(Math.abs(decoded[i]! - v)).toBeLessThanOrEqual(tolerance);
        });
      }),
    );
  });

  it('matches known binary16 encodings', () => {
    expect(toHalfBits(1)).toBe(0x3c00);
    expect(toHalfBits(-2)).toBe(0xc000);
    expect(toHalfBits(65504)).toBe(0x7bff);
    expect(toHalfBits(2 ** -24)).toBe(0x0001);
    expect(fromHalfBits(0x3555)).toBeCloseTo(0.333251953125, 12);
    expect(Number.isNaN(fromHalfBits(toHalfBits(Number.NaN)))).toBe(true);
  });

  it('decodes a frame that sits at an odd offset of a larger buffer (as Node sockets deliver it)', () => {
    const x = Float32Array.from([1.5, -2, 3.25]);
    const frame = encodeDense(x, 'f32');
    const padded = new Uint8Array(frame.byteLength + 3);
    padded.set(frame, 3);
    expect(decodeDense(padded.subarray(3)).vector).toEqual(x);
  });

  it('refuses truncated, padded, oversized and mislabelled frames with codec error codes', () => {
    const frame = encodeDense(new Float32Array(10), 'f32');
    const code = (bytes: Uint8Array, limits = {}): string => {
      try {
        decodeDense(bytes, limits);
        return 'ok';
      } catch (err) {
        expect(err).toBeInstanceOf(CodecError);
        return (err as CodecError).code;
      }
    };
    expect(code(frame.subarray(0, 10))).toBe('BAD_FRAME');
    expect(code(frame.subarray(0, frame.length - 1))).toBe('BAD_FRAME');
    const longer = new Uint8Array(frame.length + 4);
    longer.set(frame);
    expect(code(longer)).toBe('BAD_FRAME');
    expect(code(frame, { dimension: 11 })).toBe('SHAPE_MISMATCH');
    expect(code(frame, { maxDimension: 5 })).toBe('PAYLOAD_TOO_LARGE');
    const badMagic = frame.slice();
    badMagic[0] = 0;
    expect(code(badMagic)).toBe('BAD_FRAME');
    const lying = frame.slice();
    new DataView(lying.buffer).setUint32(8, 0xffffffff, true);
    expect(code(lying)).toBe('BAD_FRAME');
  });
});

describe('example batches', () => {
  it('round-trip and refuse inconsistent bytes', () => {
    const batch = {
      count: 2,
      features: 3,
      pixels: Uint8Array.from([1, 2, 3, 4, 5, 6]),
      labels: Uint8Array.from([7, 8]),
    };
    const bytes = encodeExamples(batch);
    expect(decodeExamples(bytes)).toEqual(batch);
    expect(() => decodeExamples(bytes.subarray(0, bytes.length - 1))).toThrow(CodecError);
    expect(() => decodeExamples(bytes, 10)).toThrow(/exceed/);
  });
});
