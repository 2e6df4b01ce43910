import { type InputDtype, type InputSpec, labelSize, type TargetSpec } from '@pollen/fl-core';

/** Typed arrays examples are kept in: on the device, in IndexedDB and on the wire. */
export type ExampleValues = Float32Array | Int32Array | Uint8Array;

/** The parts of a task that say what an example is. */
export interface ExampleTask {
  readonly input: InputSpec;
  readonly target: TargetSpec;
}

/**
 * `count` examples, row-major: `x` holds count * inputSize values of the input dtype, `y`
 * count * labelSize values of the label dtype ({@link labelDtype}).
 */
export interface ExampleSet {
  readonly count: number;
  readonly x: ExampleValues;
  readonly y: ExampleValues;
}

export type LabelDtype = 'int32' | 'uint8' | 'float32';

/** Values per example's features. */
export function inputSize(input: InputSpec): number {
  return input.shape.reduce((a, b) => a * b, 1);
}

/** Values per example's label (fl-core's, shared with the task checks). */
export { labelSize };

/** How labels are stored: token and class ids as int32, multilabel flags as uint8, regression as float32. */
export function labelDtype(target: TargetSpec): LabelDtype {
  if (target.kind === 'class' || target.kind === 'sequence') return 'int32';
  return target.kind === 'multilabel' ? 'uint8' : 'float32';
}

/** An empty typed array of a dtype. */
export function allocate(dtype: InputDtype | LabelDtype, length: number): ExampleValues {
  if (dtype === 'float32') return new Float32Array(length);
  if (dtype === 'int32') return new Int32Array(length);
  return new Uint8Array(length);
}

/** Several example sets as one, in order. */
export function concatExamples(task: ExampleTask, sets: readonly ExampleSet[]): ExampleSet {
  const count = sets.reduce((n, s) => n + s.count, 0);
  const xs = inputSize(task.input);
  const ys = labelSize(task);
  const x = allocate(task.input.dtype, count * xs);
  const y = allocate(labelDtype(task.target), count * ys);
  let at = 0;
  for (const s of sets) {
    x.set(s.x.subarray(0, s.count * xs), at * xs);
    y.set(s.y.subarray(0, s.count * ys), at * ys);
    at += s.count;
  }
  return { count, x, y };
}

/** The examples at `indices`, in that order. */
export function pickExamples(task: ExampleTask, set: ExampleSet, indices: ArrayLike<number>): ExampleSet {
  const xs = inputSize(task.input);
  const ys = labelSize(task);
  const x = allocate(task.input.dtype, indices.length * xs);
  const y = allocate(labelDtype(task.target), indices.length * ys);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i]!;
    x.set(set.x.subarray(j * xs, (j + 1) * xs), i * xs);
    y.set(set.y.subarray(j * ys, (j + 1) * ys), i * ys);
  }
  return { count: indices.length, x, y };
}
