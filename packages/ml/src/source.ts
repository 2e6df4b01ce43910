import { type ExampleSet, type ExampleTask, pickExamples } from './examples.ts';

/**
 * Where training and evaluation read examples from, one batch at a time: an array in memory,
 * or IndexedDB on a device (so a device may hold more examples than fit in tensors at once).
 */
export interface BatchSource {
  /** Examples the source holds. */
  readonly count: number;
  /** One pass over every example in batches of at most `batchSize`; shuffled when asked. */
  batches(batchSize: number, shuffle: boolean): AsyncIterable<ExampleSet>;
}

/** A random permutation of 0..n-1 (Fisher-Yates); `random` returns [0, 1). */
export function permutation(n: number, random: () => number = Math.random): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}

/** Examples held in memory as a batch source. */
export function arraySource(
  task: ExampleTask,
  set: ExampleSet,
  random: () => number = Math.random,
): BatchSource {
  return {
    count: set.count,
    async *batches(batchSize: number, shuffle: boolean): AsyncIterable<ExampleSet> {
      const order = shuffle ? permutation(set.count, random) : null;
      for (let start = 0; start < set.count; start += batchSize) {
        const end = Math.min(set.count, start + batchSize);
        if (order) {
          yield pickExamples(task, set, order.subarray(start, end));
        } else {
          const xs = set.x.length / set.count;
          const ys = set.y.length / set.count;
          yield {
            count: end - start,
            x: set.x.subarray(start * xs, end * xs),
            y: set.y.subarray(start * ys, end * ys),
          };
        }
      }
    },
  };
}
