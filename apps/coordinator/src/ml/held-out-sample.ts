import { expectInt, seededRng, shuffle } from '@pollen/fl-core';
import type { ExampleSet } from '@pollen/ml';

/** Held-out examples a version is evaluated on at most, by default (docs/operating.md). */
export const DEFAULT_EVALUATION_SAMPLE = 2000;

/**
 * The seed of the sample: fixed, so that every version of a task is scored on the same
 * examples and their metrics compare.
 */
const SAMPLE_SEED = 0x5eed;

const samples = new WeakMap<ExampleSet, Map<number, ExampleSet>>();

/**
 * At most `cap` examples of a held-out set: the set itself when it is no larger, else a fixed,
 * seeded sample without replacement (in the set's order), computed once per set and cap. 0 means
 * the whole set. Evaluation cost grows with the examples scored, so a large uploaded set does
 * not slow every version's evaluation down.
 */
export function evaluationSample(set: ExampleSet, cap: number): ExampleSet {
  expectInt('evaluation sample', cap, 0, 100_000_000);
  if (cap === 0 || set.count <= cap) return set;
  let byCap = samples.get(set);
  const cached = byCap?.get(cap);
  if (cached) return cached;
  const order = shuffle(
    Array.from({ length: set.count }, (_, i) => i),
    seededRng(SAMPLE_SEED),
  )
    .slice(0, cap)
    .sort((a, b) => a - b);
  const xRow = set.x.length / set.count;
  const yRow = set.y.length / set.count;
  const x = new (set.x.constructor as new (n: number) => typeof set.x)(cap * xRow);
  const y = new (set.y.constructor as new (n: number) => typeof set.y)(cap * yRow);
  order.forEach((from, to) => {
    x.set(set.x.subarray(from * xRow, (from + 1) * xRow), to * xRow);
    y.set(set.y.subarray(from * yRow, (from + 1) * yRow), to * yRow);
  });
  const sample: ExampleSet = { count: cap, x, y };
  if (!byCap) {
    byCap = new Map();
    samples.set(set, byCap);
  }
  byCap.set(cap, sample);
  return sample;
}
