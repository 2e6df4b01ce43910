import { PollenError, type PollenErrorCode } from './errors.ts';

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function fail(name: string, expected: string, value: unknown, code: PollenErrorCode): never {
  throw new PollenError(code, `"${name}" expected ${expected}, got ${describe(value)}`);
}

/** A finite number strictly above zero. */
export function expectPositive(
  name: string,
  value: unknown,
  code: PollenErrorCode = 'INVALID_ARGUMENT',
): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    fail(name, 'positive finite number', value, code);
  }
  return value;
}

/** A finite number at or above zero. */
export function expectNonNegative(
  name: string,
  value: unknown,
  code: PollenErrorCode = 'INVALID_ARGUMENT',
): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    fail(name, 'non-negative finite number', value, code);
  }
  return value;
}

/** An integer in [min, max]. */
export function expectInt(
  name: string,
  value: unknown,
  min: number,
  max: number,
  code: PollenErrorCode = 'INVALID_ARGUMENT',
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(name, `integer in [${min}, ${max}]`, value, code);
  }
  return value;
}

/** A finite number in [min, max]. */
export function expectInRange(
  name: string,
  value: unknown,
  min: number,
  max: number,
  code: PollenErrorCode = 'INVALID_ARGUMENT',
): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    fail(name, `finite number in [${min}, ${max}]`, value, code);
  }
  return value;
}

/** A string of 1..maxLength characters matching `pattern` when given. */
export function expectString(
  name: string,
  value: unknown,
  maxLength: number,
  pattern?: RegExp,
  code: PollenErrorCode = 'INVALID_ARGUMENT',
): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    fail(name, `string of 1..${maxLength} characters`, value, code);
  }
  if (pattern && !pattern.test(value)) fail(name, `string matching ${pattern}`, value, code);
  return value;
}

/** A plain object (not null, not an array). */
export function expectObject(
  name: string,
  value: unknown,
  code: PollenErrorCode = 'INVALID_ARGUMENT',
): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(name, 'object', value, code);
  return value as Record<string, unknown>;
}

/** One of a fixed set of string literals. */
export function expectOneOf<T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
  code: PollenErrorCode = 'INVALID_ARGUMENT',
): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    fail(name, `one of ${allowed.join(', ')}`, value, code);
  }
  return value as T;
}

/** Index of the first NaN or infinite entry, or -1 when every entry is finite. */
export function firstNonFinite(vector: Float32Array): number {
  for (let i = 0; i < vector.length; i++) {
    // x - x is NaN exactly for NaN and +-Infinity, and cheaper than Number.isFinite per element.
    const x = vector[i]!;
    if (x - x !== 0) return i;
  }
  return -1;
}

/** Throw NON_FINITE when any entry is NaN or infinite. */
export function assertFinite(name: string, vector: Float32Array): void {
  const at = firstNonFinite(vector);
  if (at >= 0) throw new PollenError('NON_FINITE', `"${name}" has a non-finite value at index ${at}`);
}

/** Throw SHAPE_MISMATCH unless the vector has exactly `length` entries. */
export function assertLength(name: string, vector: Float32Array, length: number): void {
  if (vector.length !== length) {
    throw new PollenError('SHAPE_MISMATCH', `"${name}" expected ${length} values, got ${vector.length}`);
  }
}
