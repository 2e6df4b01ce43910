import { describe, expect, it } from 'vitest';
import { partitionDirichlet, partitionIid, partitionPathological } from './partition.ts';
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
