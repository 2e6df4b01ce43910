import { readFileSync } from 'node:fs';
import type { ExampleBatch } from '@pollen/compression';
import type { TaskSpec } from '@pollen/fl-core';
import { decodeExampleSet, type ExampleSet } from '@pollen/ml';
import { loadMnist } from '../data/mnist.ts';

/** MNIST's labelled uint8 digits as an example set of the built-in task (labels as int32 class ids). */
export function mnistExamples(batch: ExampleBatch): ExampleSet {
  return { count: batch.count, x: batch.pixels, y: Int32Array.from(batch.labels) };
}

/**
 * The simulation's hand-over of held-out data (`pnpm sim --task --data`, docs/tasks.md): a
 * file of examples in @pollen/ml's example codec, named by this variable. It stands in for
 * `PUT /api/tasks/:id/held-out` until that route exists, and is read by every thread of the
 * process (worker threads inherit the environment).
 */
export const SIM_HELD_OUT_ENV = 'POLLEN_SIM_HELD_OUT';

let simHeldOut: { readonly path: string; readonly bytes: Uint8Array } | null = null;

function simHeldOutFor(spec: Pick<TaskSpec, 'input' | 'target'>): ExampleSet | null {
  const path = process.env[SIM_HELD_OUT_ENV];
  if (!path) return null;
  if (simHeldOut?.path !== path) simHeldOut = { path, bytes: readFileSync(path) };
  // A task the examples do not fit (another shape) has no held-out data: decoding refuses it.
  try {
    return decodeExampleSet(spec, simHeldOut.bytes);
  } catch {
    return null;
  }
}

/**
 * The held-out examples a task is evaluated on: MNIST's test split for the built-in digits,
 * a simulation's held-out split when one was handed over, none otherwise (then the
 * coordinator reports no held-out figures rather than fake ones).
 */
export function heldOutFor(spec: Pick<TaskSpec, 'data' | 'input' | 'target'>): ExampleSet | null {
  if (spec.data?.builtin === 'mnist') return mnistExamples(loadMnist().test);
  return simHeldOutFor(spec);
}
