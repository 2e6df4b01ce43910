import type { ExampleBatch } from '@pollen/compression';
import type { TaskSpec } from '@pollen/fl-core';
import type { ExampleSet } from '@pollen/ml';
import { loadMnist } from '../data/mnist.ts';

/** MNIST's labelled uint8 digits as an example set of the built-in task (labels as int32 class ids). */
export function mnistExamples(batch: ExampleBatch): ExampleSet {
  return { count: batch.count, x: batch.pixels, y: Int32Array.from(batch.labels) };
}

/**
 * The built-in held-out examples of a task: MNIST's test split for the built-in digits, none
 * otherwise. A task's uploaded held-out set, when it has one, replaces this (held-out-source.ts);
 * a task with neither reports no held-out figures rather than fake ones.
 */
export function heldOutFor(spec: Pick<TaskSpec, 'data'>): ExampleSet | null {
  return spec.data?.builtin === 'mnist' ? mnistExamples(loadMnist().test) : null;
}
