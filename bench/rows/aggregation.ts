import {
  accumulateSparse,
  decodeDense,
  decodeFrame,
  encodeDense,
  encodeFrame,
  FRAME_HEADER_BYTES,
  kForDensity,
  sparseToDense,
  topK,
} from '@pollen/compression';
import { firstNonFinite, gaussian, l2norm, seededRng, WeightedAccumulator } from '@pollen/fl-core';
import { opsPerSecond } from '../lib/measure.ts';
import { sig } from '../lib/stats.ts';
import type { BenchContext, BenchRow, Suite } from './types.ts';

const WEIGHT = 100;

function randomUpdates(count: number, d: number, seed: number): Float32Array[] {
  const rng = seededRng(seed);
  return Array.from({ length: count }, () => Float32Array.from({ length: d }, () => 0.01 * gaussian(rng)));
}

/** The coordinator's path for a dense upload: decode, finiteness, norm, fold into the running sum. */
function pollenDense(frames: readonly Uint8Array[], d: number): (n: number) => void {
  return (n) => {
    const acc = new WeightedAccumulator(d);
    for (let i = 0; i < n; i++) {
      const { vector } = decodeDense(frames[i % frames.length]!, { dimension: d });
      if (firstNonFinite(vector) >= 0) throw new Error('non-finite');
      l2norm(vector);
      acc.add(vector, WEIGHT);
    }
    acc.mean();
  };
}

/** The same steps written the straightforward way: per-parameter loops over plain JS arrays. */
function naiveDense(frames: readonly Uint8Array[], d: number): (n: number) => void {
  return (n) => {
    const sum: number[] = new Array(d).fill(0);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const frame = frames[i % frames.length]!;
      const view = new DataView(frame.buffer, frame.byteOffset + FRAME_HEADER_BYTES);
      const values: number[] = [];
      for (let j = 0; j < d; j++) values.push(view.getFloat32(j * 4, true));
      let norm2 = 0;
      for (let j = 0; j < d; j++) {
        if (!Number.isFinite(values[j])) throw new Error('non-finite');
        norm2 += values[j]! * values[j]!;
      }
      if (Math.sqrt(norm2) < 0) throw new Error('unreachable');
      for (let j = 0; j < d; j++) sum[j] = sum[j]! + WEIGHT * values[j]!;
      total += WEIGHT;
    }
    sum.map((s) => s / total);
  };
}

/** Pollen's sparse path: decode the sparse frame, add its k values in O(k). */
function pollenSparse(frames: readonly Uint8Array[], d: number): (n: number) => void {
  return (n) => {
    const sum = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      const { body } = decodeFrame(frames[i % frames.length]!, { dimension: d });
      if (body.kind !== 'sparse') throw new Error(`expected a sparse frame, got ${body.kind}`);
      accumulateSparse(sum, body.vector, WEIGHT);
    }
  };
}

/** The straightforward way with a sparse upload: make it dense, then the per-parameter loop. */
function naiveSparse(frames: readonly Uint8Array[], d: number): (n: number) => void {
  return (n) => {
    const sum: number[] = new Array(d).fill(0);
    for (let i = 0; i < n; i++) {
      const { body } = decodeFrame(frames[i % frames.length]!, { dimension: d });
      if (body.kind !== 'sparse') throw new Error(`expected a sparse frame, got ${body.kind}`);
      const dense = sparseToDense(body.vector);
      for (let j = 0; j < d; j++) sum[j] = sum[j]! + WEIGHT * dense[j]!;
    }
  };
}

/**
 * Coordinator aggregation throughput: uploads folded into a round's sum per second at
 * d = 100k, dense float32 and 1% top-k sparse, against the same work as straightforward
 * per-parameter loops over JavaScript arrays.
 */
export const aggregationSuite: Suite = {
  id: 'aggregation',
  title: 'Coordinator aggregation throughput',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const d = ctx.tiny ? 10_000 : 100_000;
    const updates = randomUpdates(ctx.tiny ? 2 : 8, d, 7);
    const dense = updates.map((u, i) => encodeDense(u, 'f32', { round: i + 1 }));
    const k = kForDensity(d, 0.01);
    const sparse = updates.map((u) => encodeFrame({ kind: 'sparse', precision: 'f32', vector: topK(u, k) }));
    const target = ctx.tiny ? 50 : 400;
    const rows: BenchRow[] = [];
    for (const [label, pollen, naive, bytes] of [
      ['dense f32', pollenDense(dense, d), naiveDense(dense, d), dense[0]!.byteLength],
      [
        `top-k 1% (k = ${k}, f32 values)`,
        pollenSparse(sparse, d),
        naiveSparse(sparse, d),
        sparse[0]!.byteLength,
      ],
    ] as const) {
      ctx.log(`aggregation: ${label}`);
      const value = opsPerSecond(pollen, ctx.runs, target);
      const base = opsPerSecond(naive, ctx.runs, target);
      rows.push({
        suite: 'aggregation',
        name: `updates/s folded into the sum, d = ${d.toLocaleString('en')}, ${label}`,
        value: sig(value),
        unit: 'updates/s',
        baseline: { name: 'per-parameter loop over JS arrays', value: sig(base), unit: 'updates/s' },
        ratio: sig(value / base),
        ratioMeaning: 'x the baseline',
        runs: ctx.runs,
        extra: { frameBytes: bytes },
        note:
          label === 'dense f32'
            ? 'decodeDense + finiteness + norm + WeightedAccumulator.add (float64 sum)'
            : 'decodeFrame + accumulateSparse, O(k); baseline densifies and loops over d',
      });
    }
    return rows;
  },
};
