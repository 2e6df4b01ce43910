import { PollenError } from './errors.ts';
import { assertLength } from './validate.ts';

/** One weight tensor of a model: its name and shape, in the model's weight order. */
export interface WeightEntry {
  readonly name: string;
  readonly shape: readonly number[];
}

/** The ordered weight tensors of a model; a model vector is their concatenation. */
export type WeightSpec = readonly WeightEntry[];

/** Number of values in a tensor of this shape. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const dim of shape) {
    if (!Number.isInteger(dim) || dim < 0) {
      throw new PollenError('SHAPE_MISMATCH', `shape dimension expected non-negative integer, got ${dim}`);
    }
    n *= dim;
  }
  return n;
}

/** Total number of parameters of a weight spec. */
export function specSize(spec: WeightSpec): number {
  let n = 0;
  for (const entry of spec) n += shapeSize(entry.shape);
  return n;
}

/** Concatenate per-tensor values, in spec order, into one flat vector. */
export function flatten(spec: WeightSpec, tensors: readonly Float32Array[]): Float32Array {
  if (tensors.length !== spec.length) {
    throw new PollenError('SHAPE_MISMATCH', `expected ${spec.length} tensors, got ${tensors.length}`);
  }
  const out = new Float32Array(specSize(spec));
  let offset = 0;
  spec.forEach((entry, i) => {
    const values = tensors[i]!;
    assertLength(entry.name, values, shapeSize(entry.shape));
    out.set(values, offset);
    offset += values.length;
  });
  return out;
}

/** Split a flat vector into per-tensor views (no copy), in spec order. */
export function unflatten(spec: WeightSpec, vector: Float32Array): Float32Array[] {
  assertLength('vector', vector, specSize(spec));
  const out: Float32Array[] = [];
  let offset = 0;
  for (const entry of spec) {
    const n = shapeSize(entry.shape);
    out.push(vector.subarray(offset, offset + n));
    offset += n;
  }
  return out;
}

/** a - b, elementwise, as a new vector. */
export function subtract(a: Float32Array, b: Float32Array): Float32Array {
  assertLength('b', b, a.length);
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! - b[i]!;
  return out;
}

/** a + b, elementwise, as a new vector. */
export function add(a: Float32Array, b: Float32Array): Float32Array {
  assertLength('b', b, a.length);
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
  return out;
}

/** y += alpha * x, in place; returns y. */
export function axpy(alpha: number, x: Float32Array, y: Float32Array): Float32Array {
  assertLength('x', x, y.length);
  for (let i = 0; i < y.length; i++) y[i] = y[i]! + alpha * x[i]!;
  return y;
}

/** alpha * x as a new vector. */
export function scale(alpha: number, x: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = alpha * x[i]!;
  return out;
}

/** Euclidean norm, accumulated in double precision. */
export function l2norm(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s);
}
