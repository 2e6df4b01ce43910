import { CodecError } from './errors.ts';

/**
 * A compact binary for labelled uint8 examples (a client's demo shard): 16-byte header then
 * pixels and labels.
 *
 *   0  magic 'PLNE'
 *   4  u32 count
 *   8  u32 features per example
 *  12  u32 reserved (0)
 *  16  count * features bytes of pixels, then count bytes of labels
 */
const MAGIC = 0x454e4c50; // 'PLNE' as little-endian u32
const HEADER = 16;

/** Labelled uint8 examples: `count` rows of `features` pixels, and one label per row. */
export interface ExampleBatch {
  readonly count: number;
  readonly features: number;
  readonly pixels: Uint8Array;
  readonly labels: Uint8Array;
}

/** Encode labelled uint8 examples. */
export function encodeExamples(batch: ExampleBatch): Uint8Array {
  const { count, features, pixels, labels } = batch;
  if (pixels.length !== count * features || labels.length !== count) {
    throw new CodecError(
      'SHAPE_MISMATCH',
      `examples expected ${count * features} pixels and ${count} labels`,
    );
  }
  const out = new Uint8Array(HEADER + pixels.length + labels.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, count, true);
  view.setUint32(8, features, true);
  out.set(pixels, HEADER);
  out.set(labels, HEADER + pixels.length);
  return out;
}

/** Decode labelled examples, refusing truncated or inconsistent bytes. */
export function decodeExamples(bytes: Uint8Array, maxBytes = 64 * 1024 * 1024): ExampleBatch {
  if (bytes.byteLength < HEADER) throw new CodecError('BAD_FRAME', 'examples shorter than their header');
  if (bytes.byteLength > maxBytes)
    throw new CodecError('PAYLOAD_TOO_LARGE', `examples exceed ${maxBytes} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC)
    throw new CodecError('BAD_FRAME', 'examples have a wrong magic number');
  const count = view.getUint32(4, true);
  const features = view.getUint32(8, true);
  if (features === 0 || bytes.byteLength !== HEADER + count * (features + 1)) {
    throw new CodecError(
      'BAD_FRAME',
      `examples of ${bytes.byteLength} bytes do not hold ${count} x ${features}`,
    );
  }
  // Copies (Node's Buffer#slice would alias the input).
  const pixels = Uint8Array.prototype.slice.call(bytes, HEADER, HEADER + count * features);
  const labels = Uint8Array.prototype.slice.call(bytes, HEADER + count * features);
  return { count, features, pixels, labels };
}
