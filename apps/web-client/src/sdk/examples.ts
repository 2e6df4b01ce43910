import { type HeldOutSplit, splitHeldOut } from '@pollen/fl-core';
import {
  allocate,
  type BatchSource,
  checkExamples,
  type ExampleRefusal,
  type ExampleSet,
  type ExampleTask,
  inputSize,
  labelDtype,
  labelSize,
  permutation,
} from '@pollen/ml';
import * as storage from './storage.ts';

/** IndexedDB space one task's examples may take on a device unless the host page says otherwise. */
export const DEFAULT_QUOTA_BYTES = 64 * 1024 * 1024;

/**
 * One example as a host page gives it: features as a typed array or a number array of the
 * task's input shape (row-major); the label as a class id, or an array (flags, values, tokens).
 */
export interface ExampleInput {
  readonly x: ArrayLike<number>;
  readonly y: number | ArrayLike<number>;
}

/** What `addExamples` did: how many were stored, which were refused and why, how many old ones made room. */
export interface AddExamplesResult {
  readonly accepted: number;
  readonly refused: readonly ExampleRefusal[];
  /** Older examples of the task deleted to stay within its quota (oldest first). */
  readonly evicted: number;
}

const BYTES = { float32: 4, int32: 4, uint8: 1 } as const;

/** Bytes one example of the task takes in IndexedDB (its typed arrays). */
export function exampleBytes(task: ExampleTask): number {
  return inputSize(task.input) * BYTES[task.input.dtype] + labelSize(task) * BYTES[labelDtype(task.target)];
}

/** Examples of the task that fit in a quota. */
export function maxExamplesFor(task: ExampleTask, quotaBytes: number): number {
  return Math.max(1, Math.floor(quotaBytes / exampleBytes(task)));
}

/**
 * Check examples against the task and store the good ones for it, as typed arrays, evicting
 * the oldest beyond the quota. A bad example is refused with a stable code; the others are kept.
 */
export async function addTaskExamples(
  taskId: string,
  task: ExampleTask,
  examples: readonly unknown[],
  source: storage.ExampleSource,
  quotaBytes = DEFAULT_QUOTA_BYTES,
  /** The entry they were made from (entries.ts), which deletes them with itself. */
  entry?: number,
): Promise<AddExamplesResult> {
  const { accepted, refused } = checkExamples(task, examples);
  const now = Date.now();
  const evicted = accepted.length
    ? await storage.addExamples(
        taskId,
        accepted.map((e) => ({ taskId, x: e.x, y: e.y, source, addedAt: now, ...(entry ? { entry } : {}) })),
        maxExamplesFor(task, quotaBytes),
      )
    : 0;
  return { accepted: accepted.length, refused, evicted };
}

/** Stored examples packed into one set of the task's dtypes. */
function pack(task: ExampleTask, examples: readonly storage.StoredExample[]): ExampleSet {
  const xs = inputSize(task.input);
  const ys = labelSize(task);
  const x = allocate(task.input.dtype, examples.length * xs);
  const y = allocate(labelDtype(task.target), examples.length * ys);
  examples.forEach((e, i) => {
    x.set(e.x.subarray(0, xs), i * xs);
    y.set(e.y.subarray(0, ys), i * ys);
  });
  return { count: examples.length, x, y };
}

/**
 * A task's examples in IndexedDB as a batch source: each batch is read from the database
 * when it is needed, so a device can hold more examples than fit in tensors at once. The
 * keys are listed once per source; an example removed meanwhile is skipped.
 */
export async function storedSource(taskId: string, task: ExampleTask): Promise<BatchSource> {
  return keySource(await storage.exampleKeys(taskId), task);
}

/**
 * A task's examples split for evaluation on the device (docs/tasks.md, "Evaluation on the
 * devices"): the share `heldOutFraction` of them, chosen by a fixed hash of each example's key
 * or, with a `newest` split, the newest by key (fl-core's splitHeldOut, so an example trained on
 * is never held out later), is never trained on.
 */
export async function storedSplit(
  taskId: string,
  task: ExampleTask,
  heldOutFraction: number,
  heldOutSplit?: HeldOutSplit,
): Promise<{ readonly train: BatchSource; readonly heldOut: BatchSource }> {
  const { train, heldOut } = splitHeldOut(await storage.exampleKeys(taskId), heldOutFraction, heldOutSplit);
  return { train: keySource(train, task), heldOut: keySource(heldOut, task) };
}

function keySource(keys: readonly number[], task: ExampleTask): BatchSource {
  const wanted = (e: storage.StoredExample): boolean =>
    e.x.length === inputSize(task.input) && e.y.length === labelSize(task);
  return {
    count: keys.length,
    async *batches(batchSize: number, shuffle: boolean): AsyncIterable<ExampleSet> {
      const order = shuffle ? permutation(keys.length) : null;
      for (let start = 0; start < keys.length; start += batchSize) {
        const end = Math.min(keys.length, start + batchSize);
        const picked = order
          ? Array.from(order.subarray(start, end), (i) => keys[i]!)
          : keys.slice(start, end);
        const found = (await storage.examplesByKey(picked)).filter(wanted);
        if (found.length > 0) yield pack(task, found);
      }
    },
  };
}
