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

/**
 * Shards by the data's own groups (a document, an author, a corpus folder): the non-IID split
 * real devices have. Groups keep the order they first appear in. With no more shards than
 * groups, each shard takes a run of whole consecutive groups; with more, each group is cut into
 * consecutive pieces, a group's count of pieces in proportion to its size (largest remainders,
 * at least one each), so no shard mixes groups. Deterministic: no rng.
 */
export function partitionNatural(groups: ArrayLike<number>, numShards: number): number[][] {
  expectInt('numShards', numShards, 1, groups.length);
  const members = new Map<number, number[]>();
  for (let i = 0; i < groups.length; i++) {
    const list = members.get(groups[i]!) ?? [];
    list.push(i);
    members.set(groups[i]!, list);
  }
  const lists = [...members.values()];
  if (numShards <= lists.length) {
    const shards: number[][] = Array.from({ length: numShards }, () => []);
    lists.forEach((list, g) => {
      shards[Math.floor((g * numShards) / lists.length)]!.push(...list);
    });
    return shards;
  }
  // Pieces per group: one each, the rest by largest remainder of the proportional share.
  const spare = numShards - lists.length;
  const exact = lists.map((l) => (l.length / groups.length) * spare);
  const pieces = exact.map((e, g) => Math.min(lists[g]!.length, 1 + Math.floor(e)));
  let left = numShards - pieces.reduce((a, b) => a + b, 0);
  const order = exact.map((e, g) => ({ g, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.g - b.g);
  while (left > 0) {
    let gave = false;
    for (const { g } of order) {
      if (left === 0) break;
      if (pieces[g]! < lists[g]!.length) {
        pieces[g]! += 1;
        left -= 1;
        gave = true;
      }
    }
    if (!gave) break; // unreachable: numShards <= examples
  }
  const shards: number[][] = [];
  lists.forEach((list, g) => {
    const n = pieces[g]!;
    for (let p = 0; p < n; p++) {
      shards.push(list.slice(Math.round((p * list.length) / n), Math.round(((p + 1) * list.length) / n)));
    }
  });
  return shards;
}

/**
 * Partition labelled examples into shards according to a task's partition spec; `groups` (one
 * group id per example) is what a natural partition splits by.
 */
export function partition(
  labels: ArrayLike<number>,
  numShards: number,
  spec: PartitionSpec,
  rng: Rng,
  groups?: ArrayLike<number>,
): number[][] {
  switch (spec.kind) {
    case 'natural':
      if (!groups)
        throw new PollenError('INVALID_ARGUMENT', "a natural partition needs the examples' groups");
      return partitionNatural(groups, numShards);
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
