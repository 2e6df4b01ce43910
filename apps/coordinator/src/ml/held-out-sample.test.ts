import { PollenError } from '@pollen/fl-core';
import type { ExampleSet } from '@pollen/ml';
import { describe, expect, it } from 'vitest';
import { evaluationSample } from './held-out-sample.ts';

/** n examples of 3 features each, example i's features all i (mod 256), its label i. */
function examples(n: number): ExampleSet {
  const x = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) x.fill(i % 256, i * 3, i * 3 + 3);
  return { count: n, x, y: Int32Array.from({ length: n }, (_, i) => i) };
}

describe('held-out evaluation sample', () => {
  it('keeps a set no larger than the cap, and the whole set for cap 0', () => {
    const set = examples(50);
    expect(evaluationSample(set, 50)).toBe(set);
    expect(evaluationSample(set, 0)).toBe(set);
  });

  it('takes a fixed, seeded sample of distinct examples, rows intact, in the set order', () => {
    const set = examples(1000);
    const sample = evaluationSample(set, 100);
    expect(sample.count).toBe(100);
    expect(sample.x).toBeInstanceOf(Uint8Array);
    expect(sample.y).toBeInstanceOf(Int32Array);
    const labels = Array.from(sample.y);
    expect(new Set(labels).size).toBe(100);
    expect(labels).toEqual([...labels].sort((a, b) => a - b));
    // Each example's features travel with its label.
    labels.forEach((label, i) => {
      expect(Array.from(sample.x.subarray(i * 3, i * 3 + 3))).toEqual(Array(3).fill(label % 256));
    });
    // The same examples every time (every version scored on the same sample), from any copy of the set.
    expect(evaluationSample(set, 100)).toBe(sample);
    expect(Array.from(evaluationSample(examples(1000), 100).y)).toEqual(labels);
    // Not simply the first ones.
    expect(labels.at(-1)).toBeGreaterThan(500);
  });

  it('refuses a cap that is not a count', () => {
    for (const bad of [-1, 2.5, Number.NaN]) {
      expect(() => evaluationSample(examples(3), bad)).toThrow(PollenError);
    }
  });
});
