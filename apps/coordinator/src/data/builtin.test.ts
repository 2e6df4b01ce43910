import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type PollenError, validateTaskSpec } from '@pollen/fl-core';
import { decodeExampleSet, encodeExampleSet, messageFeatures, nextCharExamples } from '@pollen/ml';
import { describe, expect, it } from 'vitest';
import { builtinBaselines, builtinKey, builtinShard, builtinShards, builtinSplit } from './builtin.ts';
import { BrownRowSchema, loadBrown, loadSpam, readJsonLinesGz } from './text-corpora.ts';
import { BROWN_HELD_OUT_EXAMPLES, BROWN_PRETRAIN_GENRES } from './text-split.ts';

const coding = { kind: 'next-char', alphabet: " abcdefghijklmnopqrstuvwxyz.,'", context: 8 } as const;
const rounds = { cohortSize: 3, minReports: 1, deadlineMs: 30_000 };
const training = { epochs: 1, batchSize: 32, learningRate: 0.1 };

const brownTask = (partition: object, numShards: number, part?: string) =>
  validateTaskSpec({
    id: 'chars',
    name: 'chars',
    model: { topology: {} },
    input: { shape: [8], dtype: 'uint8' },
    target: { kind: 'class', numClasses: 31 },
    presentation: coding,
    data: { builtin: 'brown', partition, numShards, ...(part ? { part } : {}) },
    training,
    rounds,
  });

const spamTask = (partition: object, numShards: number) =>
  validateTaskSpec({
    id: 'spam',
    name: 'spam',
    model: { kind: 'mlp', hidden: [8] },
    input: { shape: [64], dtype: 'float32' },
    target: { kind: 'class', numClasses: 2 },
    metrics: ['accuracy', 'auc'],
    presentation: { kind: 'text-label', labels: ['ham', 'spam'], features: { kind: 'hashed-bow', dims: 64 } },
    data: { builtin: 'spam-assassin', partition, numShards },
    training,
    rounds,
  });

describe('the built-in text data', () => {
  it('reads the committed slices: 500 Brown documents, 1,500 SpamAssassin messages in their groups', () => {
    const brown = loadBrown();
    expect(brown).toHaveLength(500);
    expect(brown[0]).toMatchObject({ doc: 'ca01', genre: 'news' });
    expect(brown[0]!.text).toMatch(/^The Fulton County Grand Jury said Friday/);
    const spam = loadSpam();
    expect(spam.length).toBeGreaterThan(1400);
    expect(new Set(spam.map((r) => r.group))).toEqual(
      new Set(['easy-ham-1', 'easy-ham-2', 'hard-ham-1', 'spam-1', 'spam-2']),
    );
    expect(spam.every((r) => (r.label === 'spam') === r.group.startsWith('spam'))).toBe(true);
  });

  it('refuses a damaged slice with INVALID_DATA naming the line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pollen-text-'));
    const file = join(dir, 'bad.jsonl.gz');
    writeFileSync(
      file,
      gzipSync('{"doc":"ca01","genre":"news","text":"ok"}\n{"doc":"x","genre":"news","text":"t"}\n'),
    );
    expect(() => readJsonLinesGz(file, BrownRowSchema)).toThrow(/"line 2.doc" expected string matching/);
    writeFileSync(file, gzipSync('not json\n'));
    expect(() => readJsonLinesGz(file, BrownRowSchema)).toThrow(/line 1 is not JSON/);
    writeFileSync(file, 'not gzip');
    try {
      readJsonLinesGz(file, BrownRowSchema);
      expect.unreachable();
    } catch (err) {
      expect((err as PollenError).code).toBe('INVALID_DATA');
    }
  });
});

describe('Brown as next-character examples', () => {
  it('holds every tenth document out, 2,000 evenly spaced examples of them, in the task dtype', () => {
    const task = brownTask({ kind: 'natural' }, 450);
    const split = builtinSplit(task)!;
    expect(split.test.count).toBe(BROWN_HELD_OUT_EXAMPLES);
    expect(split.train.x).toBeInstanceOf(Uint8Array);
    expect(split.train.x.length).toBe(split.train.count * 8);
    expect(split.groups).toHaveLength(split.train.count);
    expect(new Set(split.groups).size).toBe(450);
    expect(split.groups!.includes(9)).toBe(false);
    // The first training examples are the first document's, as next-char examples of its text.
    const first = nextCharExamples(loadBrown()[0]!.text, coding);
    expect(Array.from(split.train.y.subarray(0, first.count))).toEqual(Array.from(first.y));
    expect(builtinSplit(brownTask({ kind: 'iid' }, 10))).toBe(split);
  });

  it('gives one document per client in a natural partition of 450 shards, and mixes them in IID', () => {
    const natural = brownTask({ kind: 'natural' }, 450);
    const { groups } = builtinSplit(natural)!;
    for (const shard of builtinShards(natural).slice(0, 20)) {
      expect(new Set(shard.map((i) => groups![i])).size).toBe(1);
    }
    const iid = brownTask({ kind: 'iid' }, 450);
    expect(new Set(builtinShards(iid)[0]!.map((i) => groups![i])).size).toBeGreaterThan(100);
    // A shard goes over the wire as an example set of the task.
    const shard = builtinShard(natural, 3);
    expect(decodeExampleSet(natural, encodeExampleSet(natural, shard))).toEqual(shard);
  });

  it('keeps the fine-tuning genres only for a task on the fine-tuning part, held-out text too', () => {
    const docs = loadBrown();
    const fineTune = brownTask({ kind: 'natural' }, 296, 'fine-tune');
    const split = builtinSplit(fineTune)!;
    expect(builtinKey(fineTune)).not.toBe(builtinKey(brownTask({ kind: 'natural' }, 296)));
    const trained = new Set(split.groups);
    expect(trained.size).toBe(296);
    for (const doc of trained) {
      expect(BROWN_PRETRAIN_GENRES).not.toContain(docs[doc]!.genre);
      expect(doc % 10).not.toBe(9);
    }
    // The held-out examples are those of the fine-tuning genres' every tenth document.
    const held = docs.filter((d, i) => i % 10 === 9 && !BROWN_PRETRAIN_GENRES.includes(d.genre));
    const heldCount = held.reduce((n, d) => n + nextCharExamples(d.text, coding).count, 0);
    const first = nextCharExamples(held[0]!.text, coding);
    expect(split.test.count).toBe(Math.min(BROWN_HELD_OUT_EXAMPLES, heldCount));
    expect(split.test.y[0]).toBe(first.y[0]);
    // The pretraining part is the other genres: no document in both.
    const pretrain = new Set(builtinSplit(brownTask({ kind: 'natural' }, 154, 'pretrain'))!.groups);
    expect(pretrain.size).toBe(154);
    for (const doc of pretrain) expect(trained.has(doc)).toBe(false);
  });

  it('scores unigram and bigram baselines on the held-out examples, the bigram better', () => {
    const [uni, bi] = builtinBaselines(brownTask({ kind: 'natural' }, 450));
    expect(uni!.name).toBe('unigram');
    expect(bi!.name).toBe('bigram');
    expect(bi!.metrics.perplexity!).toBeLessThan(uni!.metrics.perplexity!);
    expect(bi!.metrics['topKAccuracy@3']!).toBeGreaterThan(uni!.metrics['topKAccuracy@3']!);
    expect(uni!.metrics.perplexity!).toBeGreaterThan(10);
  });
});

describe('SpamAssassin as labelled features', () => {
  it('holds every fifth message of each group out, features computed by @pollen/ml', () => {
    const task = spamTask({ kind: 'iid' }, 10);
    const split = builtinSplit(task)!;
    const rows = loadSpam();
    expect(split.train.count + split.test.count).toBe(rows.length);
    expect(split.test.count).toBe(298);
    expect(Array.from(split.train.x.subarray(0, 64))).toEqual(
      Array.from(messageFeatures(rows[0]!.text, { kind: 'hashed-bow', dims: 64 })),
    );
    expect(split.train.y[0]).toBe(0);
    // The labels follow the presentation's order.
    const flipped = validateTaskSpec({
      ...spamTask({ kind: 'iid' }, 10),
      presentation: {
        kind: 'text-label',
        labels: ['spam', 'ham'],
        features: { kind: 'hashed-bow', dims: 64 },
      },
    });
    expect(builtinKey(flipped)).not.toBe(builtinKey(task));
    expect(builtinSplit(flipped)!.train.y[0]).toBe(1);
  });

  it('gives each natural shard one corpus folder, and a majority-class baseline', () => {
    const task = spamTask({ kind: 'natural' }, 10);
    const { groups } = builtinSplit(task)!;
    const shards = builtinShards(task);
    expect(shards).toHaveLength(10);
    for (const shard of shards) expect(new Set(shard.map((i) => groups![i])).size).toBe(1);
    const [majority] = builtinBaselines(task);
    expect(majority!.name).toBe('majority');
    expect(majority!.metrics.accuracy!).toBeGreaterThan(0.6);
    expect(majority!.metrics.auc).toBe(0.5);
  });
});

describe('built-in data and the task', () => {
  it('refuses text data without the presentation that reads it, and a natural partition of MNIST', () => {
    const refusal = (spec: object): string => {
      try {
        validateTaskSpec(spec);
        return 'ok';
      } catch (err) {
        expect((err as PollenError).code).toBe('INVALID_TASK');
        return (err as Error).message;
      }
    };
    const { presentation: _, ...bare } = brownTask({ kind: 'iid' }, 10);
    expect(refusal(bare)).toMatch(
      /"data.builtin" brown is text: it needs a "presentation" of kind next-char/,
    );
    expect(
      refusal({
        ...spamTask({ kind: 'iid' }, 10),
        presentation: { kind: 'text-label', labels: ['a', 'b'], features: { kind: 'hashed-bow', dims: 64 } },
      }),
    ).toMatch(/spam-assassin .* the labels ham and spam/);
    expect(
      refusal({
        id: 'digits',
        name: 'digits',
        model: { kind: 'mlp', hidden: [8] },
        input: { shape: [784], dtype: 'uint8' },
        target: { kind: 'class', numClasses: 10 },
        data: { builtin: 'mnist', partition: { kind: 'natural' }, numShards: 10 },
        training,
        rounds,
      }),
    ).toMatch(/"data.partition" natural needs data with groups/);
    expect(refusal({ ...bare, data: { builtin: 'wiki', partition: { kind: 'iid' }, numShards: 1 } })).toMatch(
      /"data.builtin" expected one of mnist, brown, spam-assassin/,
    );
  });
});
