import {
  type DataPart,
  type InputSpec,
  type NextCharPresentation,
  PollenError,
  presentationOf,
  type TaskSpec,
  type TextLabelPresentation,
} from '@pollen/fl-core';
import { allocate, type ExampleSet, messageFeatures, nextCharExamples } from '@pollen/ml';
import { loadBrown, loadSpam } from './text-corpora.ts';

/** A built-in data set as examples of a task: its training split (with each example's group) and its held-out split. */
export interface BuiltinSplit {
  readonly train: ExampleSet;
  /** Each training example's group (a document, a corpus folder); null: the data has none. */
  readonly groups: Int32Array | null;
  readonly test: ExampleSet;
}

/** What decides a built-in split's examples: the data set, and how the task reads it. */
export type SplitTask = Pick<TaskSpec, 'data' | 'presentation' | 'input' | 'target'>;

/** Held-out examples of Brown at most, evenly spaced over the held-out documents' text. */
export const BROWN_HELD_OUT_EXAMPLES = 2000;
/** Every tenth document (the 10th, 20th, ...) is held out: 50 documents across all genres. */
const BROWN_HELD_OUT_EVERY = 10;
/**
 * The Brown genres a base model is pretrained on (`pnpm pretrain next-char`): five of the 15,
 * 171 of the 500 documents, the formal and expository prose (editorials, reviews, religion,
 * government documents, learned writing). The other ten genres (press reportage, hobbies,
 * popular lore, belles lettres and the six kinds of fiction) are the fine-tuning part, the
 * text federated clients hold: no document is in both.
 */
export const BROWN_PRETRAIN_GENRES: readonly string[] = [
  'editorial',
  'reviews',
  'religion',
  'government',
  'learned',
];

/** Whether a Brown document is in a part of the corpus. */
export function inBrownPart(genre: string, part: DataPart): boolean {
  if (part === 'all') return true;
  return BROWN_PRETRAIN_GENRES.includes(genre) === (part === 'pretrain');
}

/** Whether the document at this index of the corpus is held out: every tenth, whatever the part. */
export function brownHeldOut(index: number): boolean {
  return index % BROWN_HELD_OUT_EVERY === BROWN_HELD_OUT_EVERY - 1;
}
/** Every fifth message of each group is held out: 298 of the 1,499, the groups in proportion. */
const SPAM_HELD_OUT_EVERY = 5;

function asInput(input: InputSpec, ids: Int32Array): ExampleSet['x'] {
  const out = allocate(input.dtype, ids.length);
  out.set(ids);
  return out;
}

function concat(parts: readonly { count: number; x: Int32Array; y: Int32Array }[], context: number) {
  const count = parts.reduce((n, p) => n + p.count, 0);
  const x = new Int32Array(count * context);
  const y = new Int32Array(count);
  let at = 0;
  for (const p of parts) {
    x.set(p.x, at * context);
    y.set(p.y, at);
    at += p.count;
  }
  return { count, x, y };
}

/**
 * Brown as next-character examples: one group per document; every tenth document held out,
 * and of its examples {@link BROWN_HELD_OUT_EXAMPLES} evenly spaced ones (all of them when the
 * evaluator scores a sample of at most 2,000, so the baselines score the same examples). A
 * task's `data.part` keeps the documents of the pretraining or fine-tuning genres only, for
 * training and held out alike.
 */
export function brownSplit(task: SplitTask, coding: NextCharPresentation): BuiltinSplit {
  const docs = loadBrown();
  const part = task.data?.part ?? 'all';
  const train: ReturnType<typeof nextCharExamples>[] = [];
  const held: ReturnType<typeof nextCharExamples>[] = [];
  const groups: number[] = [];
  docs.forEach((doc, i) => {
    if (!inBrownPart(doc.genre, part)) return;
    const ex = nextCharExamples(doc.text, coding);
    if (brownHeldOut(i)) {
      held.push(ex);
    } else {
      train.push(ex);
      for (let j = 0; j < ex.count; j++) groups.push(i);
    }
  });
  const n = coding.context;
  const all = concat(train, n);
  const heldAll = concat(held, n);
  const take = Math.min(BROWN_HELD_OUT_EXAMPLES, heldAll.count);
  const tx = new Int32Array(take * n);
  const ty = new Int32Array(take);
  for (let i = 0; i < take; i++) {
    const from = Math.floor((i * heldAll.count) / take);
    tx.set(heldAll.x.subarray(from * n, (from + 1) * n), i * n);
    ty[i] = heldAll.y[from]!;
  }
  return {
    train: { count: all.count, x: asInput(task.input, all.x), y: all.y },
    groups: Int32Array.from(groups),
    test: { count: take, x: asInput(task.input, tx), y: ty },
  };
}

/**
 * SpamAssassin as hashed bag-of-words features and class ids (the presentation's labels
 * order them); one group per corpus folder (easy-ham-1, hard-ham-1, spam-2, ...); every fifth
 * message of each folder held out.
 */
export function spamSplit(coding: TextLabelPresentation): BuiltinSplit {
  const rows = loadSpam();
  const dims = coding.features.dims;
  const folders = [...new Set(rows.map((r) => r.group))];
  const parts = { train: [] as number[], test: [] as number[] };
  const seen = new Map<string, number>();
  rows.forEach((row, i) => {
    const k = seen.get(row.group) ?? 0;
    seen.set(row.group, k + 1);
    (k % SPAM_HELD_OUT_EVERY === SPAM_HELD_OUT_EVERY - 1 ? parts.test : parts.train).push(i);
  });
  const build = (indices: readonly number[]): ExampleSet => {
    const x = new Float32Array(indices.length * dims);
    const y = new Int32Array(indices.length);
    indices.forEach((r, i) => {
      x.set(messageFeatures(rows[r]!.text, coding.features), i * dims);
      y[i] = coding.labels.indexOf(rows[r]!.label);
    });
    return { count: indices.length, x, y };
  };
  return {
    train: build(parts.train),
    groups: Int32Array.from(parts.train, (r) => folders.indexOf(rows[r]!.group)),
    test: build(parts.test),
  };
}

/** The split of a text data set (brown, spam-assassin) as a task reads it. */
export function textSplit(task: SplitTask): BuiltinSplit {
  const p = presentationOf(task);
  if (task.data?.builtin === 'brown' && p.kind === 'next-char') return brownSplit(task, p);
  if (task.data?.builtin === 'spam-assassin' && p.kind === 'text-label') return spamSplit(p);
  throw new PollenError('INVALID_TASK', `no text data set "${task.data?.builtin}" for a ${p.kind} task`);
}
