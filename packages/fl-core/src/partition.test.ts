import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  partition,
  partitionDirichlet,
  partitionIid,
  partitionNatural,
  partitionPathological,
} from './partition.ts';
import { seededRng } from './rng.ts';

const labels = Array.from({ length: 1000 }, (_, i) => i % 10);

function classesOf(shard: number[]): number {
  return new Set(shard.map((i) => labels[i])).size;
}

function coversEachOnce(shards: number[][]): void {
  const all = shards.flat().sort((a, b) => a - b);
  expect(all).toEqual(Array.from({ length: labels.length }, (_, i) => i));
}

describe('partitions', () => {
  it('IID: equal shards covering every example once, reproducible from the seed', () => {
    const shards = partitionIid(labels.length, 10, seededRng(1));
    coversEachOnce(shards);
    expect(shards.every((s) => s.length === 100)).toBe(true);
    expect(partitionIid(labels.length, 10, seededRng(1))).toEqual(shards);
    expect(shards.every((s) => classesOf(s) >= 8)).toBe(true);
  });

  it('Dirichlet: small alpha skews labels, large alpha approaches IID; no shard is empty', () => {
    const skewed = partitionDirichlet(labels, 20, 0.1, seededRng(2));
    const mixed = partitionDirichlet(labels, 20, 100, seededRng(2));
    coversEachOnce(skewed);
    coversEachOnce(mixed);
    expect(skewed.every((s) => s.length > 0)).toBe(true);
    const mean = (shards: number[][]): number => shards.reduce((n, s) => n + classesOf(s), 0) / shards.length;
    expect(mean(skewed)).toBeLessThan(5);
    expect(mean(mixed)).toBeGreaterThan(9);
  });

  it('pathological two-shard: at most two classes per client', () => {
    const shards = partitionPathological(labels, 50, 2, seededRng(3));
    coversEachOnce(shards);
    expect(shards.every((s) => classesOf(s) <= 2)).toBe(true);
  });

  it('refuses more shards than examples', () => {
    expect(() => partitionIid(5, 6, seededRng(0))).toThrow(/numShards/);
  });
});

describe('a natural partition', () => {
  // Three groups of 6, 3 and 1 examples, listed in an order that interleaves them.
  const groups = [7, 7, 2, 7, 2, 7, 9, 7, 2, 7];

  it('gives runs of whole groups when there are no more shards than groups', () => {
    expect(partitionNatural(groups, 3)).toEqual([[0, 1, 3, 5, 7, 9], [2, 4, 8], [6]]);
    expect(partitionNatural(groups, 2)).toEqual([[0, 1, 3, 5, 7, 9, 2, 4, 8], [6]]);
    expect(partitionNatural(groups, 1)).toEqual([[0, 1, 3, 5, 7, 9, 2, 4, 8, 6]]);
  });

  it('cuts groups into pieces in proportion to their size when there are more shards', () => {
    const shards = partitionNatural(groups, 6);
    expect(shards).toHaveLength(6);
    expect(shards.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    for (const shard of shards) {
      expect(shard.length).toBeGreaterThan(0);
      expect(new Set(shard.map((i) => groups[i])).size).toBe(1);
    }
    expect(partitionNatural(groups, 10).every((s) => s.length === 1)).toBe(true);
  });

  it('holds every example once for any group layout and shard count', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 60 }),
        fc.nat(),
        (g, n) => {
          const numShards = 1 + (n % g.length);
          const shards = partitionNatural(g, numShards);
          const all = shards.flat().sort((a, b) => a - b);
          return (
            shards.length === numShards &&
            shards.every((s) => s.length > 0) &&
            all.join() === Array.from({ length: g.length }, (_, i) => i).join()
          );
        },
      ),
    );
  });

  it('is what partition() does for { kind: natural }, which needs the groups', () => {
    expect(partition(groups, 3, { kind: 'natural' }, seededRng(1), groups)).toEqual(
      partitionNatural(groups, 3),
    );
    expect(() => partition(groups, 3, { kind: 'natural' }, seededRng(1))).toThrow(
      /needs the examples' groups/,
    );
    expect(() => partitionNatural(groups, 11)).toThrow(/numShards/);
  });
});
