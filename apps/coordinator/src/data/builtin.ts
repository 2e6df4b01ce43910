import { type DataSpec, hashSeed, PollenError, partition, presentationOf, seededRng } from '@pollen/fl-core';
import { type Baseline, type ExampleSet, majorityBaseline, ngramBaselines, pickExamples } from '@pollen/ml';
import { loadMnist, mnistExamples } from './mnist.ts';
import { type BuiltinSplit, type SplitTask, textSplit } from './text-split.ts';

/**
 * A task's built-in data (docs/tasks.md): MNIST digits, Brown text or SpamAssassin messages,
 * as examples of the task, split into training shards (one per client, by the task's
 * partition) and a fixed held-out set that versions and the baselines are scored on.
 */

const splits = new Map<string, BuiltinSplit>();

/**
 * What a task's built-in examples depend on, as a key: the data set, and for text how the task
 * reads it (alphabet and context, features and labels), its input dtype and the part it uses. Null: no built-in
 * data. The evaluator thread loads the held-out set of a key itself rather than receive it.
 */
export function builtinKey(task: SplitTask): string | null {
  const builtin = task.data?.builtin;
  if (!builtin) return null;
  if (builtin === 'mnist') return 'builtin:mnist';
  // A part of the data (brown's pretraining or fine-tuning genres) is other examples.
  const part = task.data?.part ?? 'all';
  const how = [presentationOf(task), task.input.dtype, ...(part === 'all' ? [] : [part])];
  return `builtin:${builtin}:${hashSeed(JSON.stringify(how)).toString(16)}`;
}

/** The built-in data of a task as its examples (computed once per key). */
export function builtinSplit(task: SplitTask): BuiltinSplit | null {
  const key = builtinKey(task);
  if (key === null) return null;
  let split = splits.get(key);
  if (!split) {
    if (task.data?.builtin === 'mnist') {
      const { train, test } = loadMnist();
      split = { train: mnistExamples(train), groups: null, test: mnistExamples(test) };
    } else {
      split = textSplit(task);
    }
    splits.set(key, split);
  }
  return split;
}

const partitions = new Map<string, number[][]>();

/** The shards of a task's training split (memoized per data spec and key). */
export function builtinShards(task: SplitTask): number[][] {
  const data: DataSpec | undefined = task.data;
  if (!data) throw new PollenError('NOT_FOUND', 'the task has no built-in data');
  const dataKey = JSON.stringify(data);
  const key = `${builtinKey(task)}|${dataKey}`;
  let shards = partitions.get(key);
  if (!shards) {
    const split = builtinSplit(task)!;
    shards = partition(
      split.train.y,
      data.numShards,
      data.partition,
      seededRng((data.seed ^ hashSeed(dataKey)) >>> 0),
      split.groups ?? undefined,
    );
    partitions.set(key, shards);
  }
  return shards;
}

/** The training examples of one shard of a task's built-in data. */
export function builtinShard(task: SplitTask, shard: number): ExampleSet {
  const shards = builtinShards(task);
  return pickExamples(task, builtinSplit(task)!.train, shards[shard % shards.length]!);
}

const baselines = new Map<string, Baseline[]>();

/**
 * Baselines on a task's built-in held-out set, keyed as its metrics: unigram and bigram
 * character models for next-char text, the majority class for labelled messages; none for
 * MNIST or a task without built-in data.
 */
export function builtinBaselines(task: SplitTask): Baseline[] {
  const key = builtinKey(task);
  if (key === null || key === 'builtin:mnist') return [];
  let out = baselines.get(key);
  if (!out) {
    const { train, test } = builtinSplit(task)!;
    const p = presentationOf(task);
    if (p.kind === 'next-char') {
      out = ngramBaselines(train, test, p.context, [...p.alphabet].length + 1);
    } else if (task.target.kind === 'class') {
      out = [majorityBaseline(train.y, test.y, task.target.numClasses)];
    } else {
      out = [];
    }
    baselines.set(key, out);
  }
  return out;
}
