import type { ExampleSet } from '@pollen/ml';
import { builtinSplit } from '../data/builtin.ts';
import type { SplitTask } from '../data/text-split.ts';

export { mnistExamples } from '../data/mnist.ts';

/**
 * The built-in held-out examples of a task: the test split of its built-in data (MNIST digits,
 * Brown text, SpamAssassin messages: data/builtin.ts), none otherwise. A task's uploaded held-out set, when it has one, replaces this (held-out-source.ts);
 * a task with neither reports no held-out figures rather than fake ones.
 */
export function heldOutFor(spec: SplitTask): ExampleSet | null {
  return builtinSplit(spec)?.test ?? null;
}
