import type { InputDtype } from '@pollen/fl-core';
import {
  allocate,
  type ExampleTask,
  type ExampleValues,
  inputSize,
  type LabelDtype,
  labelDtype,
  labelSize,
} from './examples.ts';

/**
 * Why an example was refused, stable across releases:
 * - BAD_EXAMPLE: not an object with `x` and `y`, or x/y not a number array or typed array;
 * - SHAPE_MISMATCH: x or y holds the wrong number of values for the task's shapes;
 * - NON_FINITE: a NaN or an infinity;
 * - OUT_OF_RANGE: a feature outside its dtype (uint8 0..255 integers, int32 integers,
 *   float32's range), or a token id outside the vocabulary;
 * - BAD_LABEL: a class id outside 0..numClasses-1, a multilabel flag other than 0 or 1,
 *   a next token outside the vocabulary.
 */
export type ExampleErrorCode = 'BAD_EXAMPLE' | 'SHAPE_MISMATCH' | 'NON_FINITE' | 'OUT_OF_RANGE' | 'BAD_LABEL';

/** An example that was refused: which one, why (stable code) and a message for people. */
export interface ExampleRefusal {
  readonly index: number;
  readonly code: ExampleErrorCode;
  readonly message: string;
}

/** One example of a task, checked and in the task's dtypes. */
export interface CheckedExample {
  readonly x: ExampleValues;
  readonly y: ExampleValues;
}

const FLOAT32_MAX = 3.4028234663852886e38;

class ExampleError extends Error {
  constructor(
    readonly code: ExampleErrorCode,
    message: string,
  ) {
    super(message);
  }
}

function valuesOf(name: string, value: unknown): ArrayLike<number> {
  if (typeof value === 'number' && name === 'y') return [value];
  if (
    ArrayBuffer.isView(value) &&
    !(value instanceof DataView) &&
    !(value instanceof BigInt64Array) &&
    !(value instanceof BigUint64Array)
  ) {
    return value as unknown as ArrayLike<number>;
  }
  if (Array.isArray(value) && value.every((v) => typeof v === 'number')) return value as number[];
  throw new ExampleError('BAD_EXAMPLE', `"${name}" expected a number array or a typed array`);
}

function convert(
  name: string,
  values: ArrayLike<number>,
  length: number,
  dtype: InputDtype | LabelDtype,
  limit?: number,
): ExampleValues {
  if (values.length !== length) {
    throw new ExampleError('SHAPE_MISMATCH', `"${name}" expected ${length} values, got ${values.length}`);
  }
  const out = allocate(dtype, length);
  for (let i = 0; i < length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) throw new ExampleError('NON_FINITE', `"${name}[${i}]" is ${v}`);
    if (dtype === 'float32') {
      if (Math.abs(v) > FLOAT32_MAX)
        throw new ExampleError('OUT_OF_RANGE', `"${name}[${i}]" ${v} exceeds float32`);
    } else {
      const max = limit ?? (dtype === 'uint8' ? 255 : 2_147_483_647);
      const min = dtype === 'uint8' || limit !== undefined ? 0 : -2_147_483_648;
      if (!Number.isInteger(v) || v < min || v > max) {
        throw new ExampleError(
          'OUT_OF_RANGE',
          `"${name}[${i}]" expected an integer in [${min}, ${max}], got ${v}`,
        );
      }
    }
    out[i] = v;
  }
  return out;
}

function checkLabels(task: ExampleTask, y: ExampleValues): void {
  const { target } = task;
  const max =
    target.kind === 'class'
      ? target.numClasses - 1
      : target.kind === 'sequence'
        ? target.vocabSize - 1
        : target.kind === 'multilabel'
          ? 1
          : Number.POSITIVE_INFINITY;
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    if (v < 0 || v > max) {
      const what = target.kind === 'multilabel' ? 'a flag 0 or 1' : `a label in [0, ${max}]`;
      throw new ExampleError('BAD_LABEL', `"y${y.length > 1 ? `[${i}]` : ''}" expected ${what}, got ${v}`);
    }
  }
}

/**
 * Check one example against the task's input and target, and return it in the task's
 * dtypes (the input dtype for x, {@link labelDtype} for y).
 */
function checkOne(task: ExampleTask, example: unknown): CheckedExample {
  if (example === null || typeof example !== 'object') {
    throw new ExampleError('BAD_EXAMPLE', 'expected an object { x, y }');
  }
  const { x, y } = example as { x?: unknown; y?: unknown };
  const { input, target } = task;
  const vocab = target.kind === 'sequence' ? target.vocabSize - 1 : undefined;
  const xs = convert('x', valuesOf('x', x), inputSize(input), input.dtype, vocab);
  const ys = convert('y', valuesOf('y', y), labelSize(task), labelDtype(target));
  checkLabels(task, ys);
  return { x: xs, y: ys };
}

/**
 * Check examples one by one: the good ones come back in the task's dtypes, each bad one is
 * refused with its index and a stable code, and never stops the others.
 */
export function checkExamples(
  task: ExampleTask,
  examples: readonly unknown[],
): { readonly accepted: CheckedExample[]; readonly refused: ExampleRefusal[] } {
  const accepted: CheckedExample[] = [];
  const refused: ExampleRefusal[] = [];
  examples.forEach((example, index) => {
    try {
      accepted.push(checkOne(task, example));
    } catch (err) {
      if (!(err instanceof ExampleError)) throw err;
      refused.push({ index, code: err.code, message: err.message });
    }
  });
  return { accepted, refused };
}
