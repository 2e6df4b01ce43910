import { PollenError } from '@pollen/fl-core';
import {
  allocate,
  type ExampleSet,
  type ExampleTask,
  type ExampleValues,
  inputSize,
  labelDtype,
  labelSize,
} from './examples.ts';

/**
 * Labelled examples of a task as bytes (for the wire and for files), little-endian:
 *
 *   0  magic 'PLX1'
 *   4  u32 count
 *   8  u32 bytes of x (count * input size * dtype width)
 *  12  u32 bytes of y (count * label size * dtype width)
 *  16  x, then zero padding to a multiple of 4, then y
 *
 * The dtypes and shapes are the task's (its input dtype, {@link labelDtype}), so the bytes
 * carry no schema of their own: a decoder checks them against the task it expects.
 */
const MAGIC = 0x31584c50; // 'PLX1' as little-endian u32
const HEADER = 16;

const pad4 = (n: number): number => (n + 3) & ~3;

function bytesOf(values: ExampleValues): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** Encode an example set of a task. */
export function encodeExampleSet(task: ExampleTask, set: ExampleSet): Uint8Array {
  const xLen = set.count * inputSize(task.input);
  const yLen = set.count * labelSize(task);
  if (set.x.length !== xLen || set.y.length !== yLen) {
    throw new PollenError('SHAPE_MISMATCH', `examples expected ${xLen} feature and ${yLen} label values`);
  }
  const x = bytesOf(set.x);
  const y = bytesOf(set.y);
  const out = new Uint8Array(HEADER + pad4(x.length) + y.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, set.count, true);
  view.setUint32(8, x.length, true);
  view.setUint32(12, y.length, true);
  out.set(x, HEADER);
  out.set(y, HEADER + pad4(x.length));
  return out;
}

function copyOut(
  bytes: Uint8Array,
  offset: number,
  dtype: Parameters<typeof allocate>[0],
  length: number,
): ExampleValues {
  const out = allocate(dtype, length);
  new Uint8Array(out.buffer).set(bytes.subarray(offset, offset + out.byteLength));
  return out;
}

/** Decode examples of a task, refusing bytes that are truncated or do not fit its shapes. */
export function decodeExampleSet(
  task: ExampleTask,
  bytes: Uint8Array,
  maxBytes = 256 * 1024 * 1024,
): ExampleSet {
  if (bytes.byteLength < HEADER) throw new PollenError('BAD_FRAME', 'examples shorter than their header');
  if (bytes.byteLength > maxBytes)
    throw new PollenError('PAYLOAD_TOO_LARGE', `examples exceed ${maxBytes} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC)
    throw new PollenError('BAD_FRAME', 'examples have a wrong magic number');
  const count = view.getUint32(4, true);
  const xBytes = view.getUint32(8, true);
  const yBytes = view.getUint32(12, true);
  const xLen = count * inputSize(task.input);
  const yLen = count * labelSize(task);
  const x = allocate(task.input.dtype, 0).BYTES_PER_ELEMENT * xLen;
  const y = allocate(labelDtype(task.target), 0).BYTES_PER_ELEMENT * yLen;
  if (xBytes !== x || yBytes !== y) {
    throw new PollenError(
      'SHAPE_MISMATCH',
      `${count} examples of this task hold ${x} + ${y} bytes, not ${xBytes} + ${yBytes}`,
    );
  }
  if (bytes.byteLength !== HEADER + pad4(x) + y)
    throw new PollenError('BAD_FRAME', 'examples have a wrong length');
  return {
    count,
    x: copyOut(bytes, HEADER, task.input.dtype, xLen),
    y: copyOut(bytes, HEADER + pad4(x), labelDtype(task.target), yLen),
  };
}
