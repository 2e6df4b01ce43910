import { decodeSortedIndices } from '@pollen/compression';
import { validateTaskSpec } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { CoordinateSets, roundUpload } from './coordinates.ts';
import { maxUpdateBytes } from './engine.ts';

const spec = (compression: Record<string, unknown>) =>
  validateTaskSpec({
    id: 'digits',
    name: 'digits',
    modelTopology: {},
    inputShape: [784],
    numClasses: 10,
    dataset: { name: 'mnist', partition: { kind: 'iid' }, numShards: 10 },
    training: { epochs: 1, batchSize: 32, learningRate: 0.1 },
    rounds: { cohortSize: 10, minReports: 5, deadlineMs: 60_000 },
    compression,
  });

describe('CoordinateSets', () => {
  const d = 1000;
  const shared = spec({ kind: 'shared', fraction: 0.05, exploration: 0.2 });

  it('gives no set unless the task uses shared coordinates', () => {
    expect(new CoordinateSets().forRound(spec({ kind: 'topk', fraction: 0.05 }), 1, d)).toBeNull();
    expect(roundUpload(spec({}), d, null).message).toBeNull();
  });

  it('returns k sorted distinct coordinates, the same for the same round, another for the next', () => {
    const sets = new CoordinateSets();
    const first = sets.forRound(shared, 1, d)!;
    expect(first).toHaveLength(50);
    for (let j = 1; j < first.length; j++) expect(first[j]!).toBeGreaterThan(first[j - 1]!);
    expect(sets.forRound(shared, 1, d)).toBe(first);
    expect(Array.from(new CoordinateSets().forRound(shared, 1, d)!)).toEqual(Array.from(first));
    expect(Array.from(sets.forRound(shared, 2, d)!)).not.toEqual(Array.from(first));
    const upload = roundUpload(shared, d, first);
    expect(upload.message).toMatchObject({ kind: 'shared', k: 50, bits: 32, errorFeedback: true });
    expect(Array.from(decodeSortedIndices(upload.message!.coordinates as Uint8Array, 50, d))).toEqual(
      Array.from(first),
    );
  });

  it('follows where the aggregates are large, and comes back to coordinates left waiting', () => {
    const sets = new CoordinateSets();
    // Coordinates 0..199 move by 1 each round, the rest by 0.01: the clients' residuals build up
    // fastest there, and slowly everywhere else. 200 heavy coordinates do not fit one set of 50.
    const aggregateOn = (set: Uint32Array, round: number): Float32Array => {
      const agg = new Float32Array(d);
      for (const i of set) agg[i] = (i < 200 ? 1 : 0.01) * (round - lastSent[i]!);
      return agg;
    };
    const lastSent = new Float64Array(d);
    const counts = new Uint32Array(d);
    for (let round = 1; round <= 80; round++) {
      const set = sets.forRound(shared, round, d)!;
      sets.observe(shared, round, aggregateOn(set, round));
      for (const i of set) {
        lastSent[i] = round;
        counts[i]!++;
      }
    }
    const heavy = counts.subarray(0, 200).reduce((a, b) => a + b, 0) / 200;
    const light = counts.subarray(200).reduce((a, b) => a + b, 0) / (d - 200);
    // About 8.5x (over 10x before the optimistic score): every light coordinate is now sent
    // once by the score besides what exploration draws, which is what finds coordinates the
    // aggregate never showed (the next describe block).
    expect(heavy).toBeGreaterThan(8 * light);
    // The 40 places taken by score rotate among the heavy coordinates found so far, rather than
    // staying with the first 40 found (exploration finds about two more each round).
    const heavySent = counts.subarray(0, 200).filter((c) => c >= 3).length;
    expect(heavySent).toBeGreaterThan(60);
  });
});

describe('CoordinateSets: the optimistic score', () => {
  const d = 1000;
  // No random exploration: only the score can bring a coordinate into the set.
  const greedy = spec({ kind: 'shared', fraction: 0.05, exploration: 0 });

  it('visits every coordinate, though the aggregate only ever shows the first 100', () => {
    const sets = new CoordinateSets();
    const counts = new Uint32Array(d);
    let coveredBy = 0;
    for (let round = 1; round <= 60; round++) {
      const set = sets.forRound(greedy, round, d)!;
      const agg = new Float32Array(d);
      for (const i of set) {
        counts[i]!++;
        if (i < 100) agg[i] = 1;
      }
      sets.observe(greedy, round, agg);
      if (coveredBy === 0 && counts.every((c) => c > 0)) coveredBy = round;
    }
    // 1000 coordinates, 50 a round: 20 rounds at the least; the optimistic score gets there in
    // under 40 while still resending where the aggregate was large.
    expect(coveredBy).toBeGreaterThan(0);
    expect(coveredBy).toBeLessThanOrEqual(40);
    const heavy = counts.subarray(0, 100).reduce((a, b) => a + b, 0) / 100;
    const rest = counts.subarray(100).reduce((a, b) => a + b, 0) / (d - 100);
    expect(heavy).toBeGreaterThan(2 * rest);
  });

  it('scores a never-sent coordinate higher every round it waits', () => {
    const sets = new CoordinateSets();
    const first = sets.forRound(greedy, 1, d)!;
    const agg = new Float32Array(d);
    for (const i of first) agg[i] = 1;
    sets.observe(greedy, 1, agg);
    const never = [...Array(d).keys()].find((i) => !first.includes(i))!;
    const before = sets.scores(greedy, d)[never]!;
    expect(before).toBeGreaterThan(0);
    sets.forRound(greedy, 2, d);
    sets.observe(greedy, 2, new Float32Array(d));
    if (!sets.forRound(greedy, 2, d)!.includes(never)) {
      expect(sets.scores(greedy, d)[never]!).toBeGreaterThan(before);
    }
  });

  it('follows the warm-up: the set shrinks from warmupFraction to fraction', () => {
    const warm = spec({ kind: 'shared', fraction: 0.01, warmupRounds: 2, warmupFraction: 0.04 });
    const sets = new CoordinateSets();
    expect([1, 2, 3, 4].map((r) => sets.forRound(warm, r, d)!.length)).toEqual([40, 20, 10, 10]);
    expect(roundUpload(warm, d, sets.forRound(warm, 2, d), 2).message!.k).toBe(20);
    const topk = spec({
      kind: 'topk',
      fraction: 0.01,
      warmupRounds: 2,
      warmupFraction: 0.04,
      momentumCorrection: 0.5,
    });
    expect(roundUpload(topk, d, null, 1).message).toMatchObject({ k: 40, momentumCorrection: 0.5 });
    expect(roundUpload(topk, d, null, 3).plan).toMatchObject({ k: 10, momentumCorrection: 0.5 });
  });
});

describe('maxUpdateBytes', () => {
  it('admits the largest upload a task can send: dense, or sparse near full density', () => {
    const stored = (compression: Record<string, unknown>) => ({
      spec: spec(compression),
      weightSpec: [{ name: 'w', shape: [1000] }],
      status: 'running' as const,
      createdAt: 0,
      currentVersion: 0,
    });
    expect(maxUpdateBytes(stored({}))).toBe(32 + 4000);
    expect(maxUpdateBytes(stored({ kind: 'topk', fraction: 0.01 }))).toBe(32 + 4000);
    // Every value and an index byte or more each: more than the dense frame.
    expect(maxUpdateBytes(stored({ kind: 'topk', fraction: 1 }))).toBe(32 + 4000 + 5000);
  });
});
