import { PollenError } from './errors.ts';
import { gamma, type Rng, shuffle } from './rng.ts';
import type { PartitionSpec } from './task/schema.ts';
import { expectInt } from './validate.ts';

/**
 * Split example indices into `numShards` IID shards of (nearly) equal size.
 */
export function partitionIid(numExamples: number, numShards: number, rng: Rng): number[][] {
  expectInt('numShards', numShards, 1, numExamples);
  const order = shuffle(
    Array.from({ length: numExamples }, (_, i) => i),
    rng,
  );
  const shards: number[][] = Array.from({ length: numShards }, () => []);
  order.forEach((example, i) => {
    shards[i % numShards]!.push(example);
  });
  return shards;
}

/**
 * Label-skewed shards: for every class, the share of its examples that goes to each shard
 * is drawn from Dirichlet(alpha) (Hsu et al. 2019, "Measuring the Effects of Non-Identical
 * Data Distribution"). Small alpha gives few classes per shard; large alpha tends to IID.
 * Every shard gets at least one example.
 */
export function partitionDirichlet(
  labels: ArrayLike<number>,
  numShards: number,
  alpha: number,
  rng: Rng,
): number[][] {
  expectInt('numShards', numShards, 1, labels.length);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    const list = byClass.get(y) ?? [];
    list.push(i);
    byClass.set(y, list);
  }
  const shards: number[][] = Array.from({ length: numShards }, () => []);
  for (const [, examples] of [...byClass.entries()].sort((a, b) => a[0] - b[0])) {
    shuffle(examples, rng);
    const weights = Array.from({ length: numShards }, () => gamma(rng, alpha));
    const total = weights.reduce((s, w) => s + w, 0);
    let start = 0;
    let cumulative = 0;
    weights.forEach((w, shard) => {
      cumulative += w / total;
      const end = shard === numShards - 1 ? examples.length : Math.round(cumulative * examples.length);
      for (let i = start; i < end; i++) shards[shard]!.push(examples[i]!);
      start = Math.max(start, end);
    });
  }
  // A shard with no example cannot train: give it one from the largest shard.
  for (const shard of shards) {
    if (shard.length > 0) continue;
    const largest = shards.reduce((a, b) => (b.length > a.length ? b : a));
    shard.push(largest.pop()!);
  }
  return shards;
}

/**
 * McMahan et al.'s pathological non-IID split: sort by label, cut into
 * numShards * shardsPerClient pieces, and give each shard `shardsPerClient` random pieces,
 * so most shards see only two classes.
 */
export function partitionPathological(
  labels: ArrayLike<number>,
  numShards: number,
  shardsPerClient: number,
  rng: Rng,
): number[][] {
  const pieces = numShards * shardsPerClient;
  expectInt('numShards * shardsPerClient', pieces, 1, labels.length);
  const sorted = Array.from({ length: labels.length }, (_, i) => i).sort(
    (a, b) => labels[a]! - labels[b]! || a - b,
  );
  const pieceOrder = shuffle(
    Array.from({ length: pieces }, (_, i) => i),
    rng,
  );
  const size = labels.length / pieces;
  return Array.from({ length: numShards }, (_, shard) => {
    const out: number[] = [];
    for (let j = 0; j < shardsPerClient; j++) {
      const piece = pieceOrder[shard * shardsPerClient + j]!;
      for (let i = Math.round(piece * size); i < Math.round((piece + 1) * size); i++) out.push(sorted[i]!);
    }
    return out;
  });
}

/** Partition labelled examples into shards according to a task's partition spec. */
export function partition(
  labels: ArrayLike<number>,
  numShards: number,
  spec: PartitionSpec,
  rng: Rng,
): number[][] {
  switch (spec.kind) {
    case 'iid':
      return partitionIid(labels.length, numShards, rng);
    case 'dirichlet':
      return partitionDirichlet(labels, numShards, spec.alpha, rng);
    case 'shards':
      return partitionPathological(labels, numShards, spec.shardsPerClient, rng);
    default:
      throw new PollenError('INVALID_ARGUMENT', `unknown partition ${JSON.stringify(spec)}`);
  }
}
