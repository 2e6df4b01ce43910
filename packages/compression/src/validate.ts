import { CodecError, type CodecErrorCode } from './errors.ts';

/**
 * Boundary checks shared by the encoders, with messages in one shape:
 * `"k" expected integer in [0, 10], got 11`. Internal to the package.
 */

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** Throw a CodecError saying what `name` should have been. */
export function fail(
  name: string,
  expected: string,
  value: unknown,
  code: CodecErrorCode = 'INVALID_ARGUMENT',
): never {
  throw new CodecError(code, `"${name}" expected ${expected}, got ${describe(value)}`);
}

/** An integer in [min, max]. */
export function expectInt(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(name, `integer in [${min}, ${max}]`, value);
  }
  return value;
}

/** A finite number strictly above zero. */
export function expectPositive(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    fail(name, 'positive finite number', value);
  }
  return value;
}

/** A Float32Array, optionally of a given length. */
export function expectFloat32(name: string, value: unknown, length?: number): Float32Array {
  if (!(value instanceof Float32Array)) fail(name, 'Float32Array', value);
  if (length !== undefined && value.length !== length) {
    fail(name, `length ${length}`, value.length, 'SHAPE_MISMATCH');
  }
  return value;
}

/** Strictly increasing indices, each below `dimension`. */
export function expectSortedIndices(name: string, indices: unknown, dimension: number): Uint32Array {
  if (!(indices instanceof Uint32Array)) fail(name, 'Uint32Array', indices);
  let previous = -1;
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j]!;
    if (i <= previous || i >= dimension) {
      fail(`${name}[${j}]`, `strictly increasing index below ${dimension}`, i);
    }
    previous = i;
  }
  return indices;
}

/** The index of the first NaN in `x`, or -1. */
export function firstNaN(x: Float32Array): number {
  for (let i = 0; i < x.length; i++) if (Number.isNaN(x[i]!)) return i;
  return -1;
}
