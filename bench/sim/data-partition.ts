import {
  hashSeed,
  partitionDirichlet,
  partitionIid,
  partitionPathological,
  type Rng,
  seededRng,
  shuffle,
} from '@pollen/fl-core';
import { type ExampleSet, type ExampleTask, pickExamples } from '@pollen/ml';
import { BenchError } from '../lib/errors.ts';
import type { SimPartition } from './data-option.ts';

/** A random stream of its own per purpose, so the held-out split does not move when the partition changes. */
export function streamRng(seed: number, purpose: string): Rng {
  return seededRng(hashSeed(`${purpose}:${seed}`));
}

/** Row indices held out (a seeded `fraction` of them, at least one) and kept for training. */
export function splitHeldOut(
  count: number,
  fraction: number,
  rng: Rng,
): { heldOut: number[]; train: number[] } {
  const order = shuffle(
    Array.from({ length: count }, (_, i) => i),
    rng,
  );
  const n = Math.max(1, Math.round(fraction * count));
  if (n >= count) {
    throw new BenchError(
      'INVALID_OPTION',
      `the data file's ${count} rows leave none to train on after holding ${n} out`,
    );
  }
  return { heldOut: order.slice(0, n).sort((a, b) => a - b), train: order.slice(n).sort((a, b) => a - b) };
}

function refuse(message: string): never {
  throw new BenchError('INVALID_OPTION', message);
}

/**
 * Group indices into `clients` parts, naturally: the distinct groups in a seeded order, group
 * i to client i mod clients, so each client holds whole groups (several when there are more
 * groups than clients).
 */
export function partitionByGroup(groups: readonly string[], clients: number, rng: Rng): number[][] {
  const byGroup = new Map<string, number[]>();
  groups.forEach((g, i) => {
    const list = byGroup.get(g) ?? [];
    list.push(i);
    byGroup.set(g, list);
  });
  if (byGroup.size < clients) {
    refuse(
      `the group column holds ${byGroup.size} distinct values among the training rows, fewer than --clients ${clients}`,
    );
  }
  const names = shuffle([...byGroup.keys()].sort(), rng);
  const parts: number[][] = Array.from({ length: clients }, () => []);
  names.forEach((name, i) => {
    parts[i % clients]!.push(...byGroup.get(name)!);
  });
  return parts;
}

/** Dirichlet and shards skew labels: they need a class target (there are labels to skew). */
export function checkPartitionFits(partition: SimPartition, task: ExampleTask): void {
  if ((partition.kind === 'dirichlet' || partition.kind === 'shards') && task.target.kind !== 'class') {
    refuse(
      `"--partition ${partition.kind}" skews labels and needs a class target; this task's target is ` +
        `${task.target.kind}: use iid or column:NAME`,
    );
  }
}

/**
 * The training examples split across `clients` as `--partition` says: IID, Dirichlet over the
 * labels or McMahan's shards (class targets: there are labels to skew), or by the group
 * column. Each client gets at least one example.
 */
export function partitionExamples(
  task: ExampleTask,
  set: ExampleSet,
  groups: readonly string[] | null,
  partition: SimPartition,
  clients: number,
  rng: Rng,
): ExampleSet[] {
  if (clients > set.count) refuse(`--clients ${clients} is more than the ${set.count} training rows`);
  checkPartitionFits(partition, task);
  let parts: number[][];
  switch (partition.kind) {
    case 'iid':
      parts = partitionIid(set.count, clients, rng);
      break;
    case 'dirichlet':
      parts = partitionDirichlet(set.y, clients, partition.alpha, rng);
      break;
    case 'shards':
      if (clients * partition.shardsPerClient > set.count) {
        refuse(
          `"--partition shards:${partition.shardsPerClient}" needs ${clients * partition.shardsPerClient} training rows`,
        );
      }
      parts = partitionPathological(set.y, clients, partition.shardsPerClient, rng);
      break;
    case 'column':
      if (!groups)
        refuse(`"--partition column:${partition.column}": the data file names no group for its rows`);
      parts = partitionByGroup(groups, clients, rng);
      break;
    case 'natural':
      refuse('"--partition natural" splits built-in data by its groups; a data file uses column:NAME');
  }
  return parts.map((indices) => pickExamples(task, set, indices));
}
