import {
  accumulateSparse,
  checkUpload,
  decodeFrame,
  encodeDense,
  encodeFrame,
  FRAME_HEADER_BYTES,
  fromHalfBits,
  kForDensity,
  sparseToDense,
  topK,
} from '@pollen/compression';
import { gaussian, seededRng, WeightedAccumulator } from '@pollen/fl-core';
import { opsPerSecond } from '../lib/measure.ts';
import { median, sig } from '../lib/stats.ts';
import type { BenchContext, BenchRow, Suite } from './types.ts';

const WEIGHT = 100;

function randomUpdates(count: number, d: number, seed: number): Float32Array[] {
  const rng = seededRng(seed);
  return Array.from({ length: count }, () => Float32Array.from({ length: d }, () => 0.01 * gaussian(rng)));
}

type Batch = (n: number) => void;

/**
 * The coordinator's intake of a dense upload, as the round does it: checkUpload (header,
 * decode, finiteness and norm in one pass over the frame) then WeightedAccumulator.add (the
 * fold into the float64 sum), then the mean once.
 */
function pollenDense(frames: readonly Uint8Array[], d: number): Batch {
  return (n) => {
    const acc = new WeightedAccumulator(d);
    for (let i = 0; i < n; i++) {
      const { delta, norm } = checkUpload(frames[i % frames.length]!, null, d);
      if (!(delta instanceof Float32Array) || norm > 1e9) throw new Error('unexpected upload');
      acc.add(delta, WEIGHT);
    }
    acc.mean();
  };
}

/**
 * The limit: one tight loop over the frame's values straight into the float64 sum, squares
 * summed on the way (so finiteness and the norm are known at the end), no header checks, no
 * way to refuse the update after it was folded. float16 bodies go through the same 2^16-entry
 * table the intake uses.
 */
function limitDense(frames: readonly Uint8Array[], d: number, codec: 'f32' | 'f16'): Batch {
  const half = codec === 'f16' ? Float32Array.from({ length: 0x10000 }, (_, b) => fromHalfBits(b)) : null;
  return (n) => {
    const sum = new Float64Array(d);
    for (let r = 0; r < n; r++) {
      const frame = frames[r % frames.length]!;
      const at = frame.byteOffset + FRAME_HEADER_BYTES;
      let s = 0;
      if (half) {
        // Four at a time with four partial sums of squares, as the intake's f16 decode runs.
        const bits = new Uint16Array(frame.buffer, at, d);
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        const end = d - (d % 4);
        for (let i = 0; i < end; i += 4) {
          const a = half[bits[i]!]!;
          const b = half[bits[i + 1]!]!;
          const c = half[bits[i + 2]!]!;
          const e = half[bits[i + 3]!]!;
          s += a * a;
          s1 += b * b;
          s2 += c * c;
          s3 += e * e;
          sum[i] = sum[i]! + WEIGHT * a;
          sum[i + 1] = sum[i + 1]! + WEIGHT * b;
          sum[i + 2] = sum[i + 2]! + WEIGHT * c;
          sum[i + 3] = sum[i + 3]! + WEIGHT * e;
        }
        for (let i = end; i < d; i++) {
          const x = half[bits[i]!]!;
          s += x * x;
          sum[i] = sum[i]! + WEIGHT * x;
        }
        s += s1 + s2 + s3;
      } else {
        // Four partial sums of squares, as the intake keeps, so neither waits on one add chain.
        const x = new Float32Array(frame.buffer, at, d);
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        const end = d - (d % 4);
        for (let i = 0; i < end; i += 4) {
          const a = x[i]!;
          const b = x[i + 1]!;
          const c = x[i + 2]!;
          const e = x[i + 3]!;
          s += a * a;
          s1 += b * b;
          s2 += c * c;
          s3 += e * e;
          sum[i] = sum[i]! + WEIGHT * a;
          sum[i + 1] = sum[i + 1]! + WEIGHT * b;
          sum[i + 2] = sum[i + 2]! + WEIGHT * c;
          sum[i + 3] = sum[i + 3]! + WEIGHT * e;
        }
        for (let i = end; i < d; i++) {
          s += x[i]! * x[i]!;
          sum[i] = sum[i]! + WEIGHT * x[i]!;
        }
        s += s1 + s2 + s3;
      }
      if (!Number.isFinite(s)) throw new Error('non-finite');
    }
    const mean = new Float32Array(d);
    for (let i = 0; i < d; i++) mean[i] = sum[i]! / (n * WEIGHT);
  };
}

/** The same steps written the straightforward way: per-parameter loops over plain JS arrays. */
function naiveDense(frames: readonly Uint8Array[], d: number): Batch {
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
function pollenSparse(frames: readonly Uint8Array[], d: number): Batch {
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
function naiveSparse(frames: readonly Uint8Array[], d: number): Batch {
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
 * Rates of `value` and `baseline`, measured alternately `runs` times so both see the same
 * machine load; the ratio is the median of the per-run ratios.
 */
function paired(value: Batch, baseline: Batch, runs: number, targetMs: number) {
  const a: number[] = [];
  const b: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < runs; r++) {
    a.push(opsPerSecond(value, 1, targetMs));
    b.push(opsPerSecond(baseline, 1, targetMs));
    ratios.push(a[r]! / b[r]!);
  }
  return { value: median(a), baseline: median(b), ratio: median(ratios) };
}

/**
 * Coordinator aggregation throughput: uploads folded into a round's sum per second, against
 * the limit (one fused loop over the frame's values into the float64 sum, measured in the same
 * run) for dense frames at d = 100k and 1M, and against per-parameter loops over JavaScript
 * arrays (a second, labelled baseline) for dense f32 and 1% top-k sparse uploads.
 */
export const aggregationSuite: Suite = {
  id: 'aggregation',
  title: 'Coordinator aggregation throughput',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const sizes = ctx.tiny ? [10_000] : [100_000, 1_000_000];
    const target = ctx.tiny ? 50 : 400;
    const rows: BenchRow[] = [];
    for (const d of sizes) {
      const updates = randomUpdates(ctx.tiny ? 2 : 4, d, 7);
      const dn = d.toLocaleString('en');
      for (const codec of ['f32', 'f16'] as const) {
        if (codec === 'f16' && d > 100_000) continue;
        const frames = updates.map((u, i) => encodeDense(u, codec, { round: i + 1 }));
        ctx.log(`aggregation: dense ${codec}, d = ${dn}, against the fused loop`);
        const m = paired(pollenDense(frames, d), limitDense(frames, d, codec), ctx.runs, target);
        rows.push({
          suite: 'aggregation',
          name: `updates/s folded into the sum, d = ${dn}, dense ${codec}`,
          value: sig(m.value),
          unit: 'updates/s',
          baseline: {
            name: 'limit: one fused loop over the frame into the float64 sum',
            value: sig(m.baseline),
            unit: 'updates/s',
          },
          ratio: sig(m.ratio),
          ratioMeaning: 'x the limit (goal >= 0.8)',
          runs: ctx.runs,
          extra: { frameBytes: frames[0]!.byteLength },
          note: 'checkUpload (header, decode, finiteness, norm: one pass, f32 read in place) + WeightedAccumulator.add',
        });
      }
    }
    const d = sizes[0]!;
    const updates = randomUpdates(ctx.tiny ? 2 : 4, d, 7);
    const dense = updates.map((u, i) => encodeDense(u, 'f32', { round: i + 1 }));
    const k = kForDensity(d, 0.01);
    const sparse = updates.map((u) => encodeFrame({ kind: 'sparse', precision: 'f32', vector: topK(u, k) }));
    for (const [label, pollen, naive, bytes] of [
      ['dense f32', pollenDense(dense, d), naiveDense(dense, d), dense[0]!.byteLength],
      [
        `top-k 1% (k = ${k}, f32 values)`,
        pollenSparse(sparse, d),
        naiveSparse(sparse, d),
        sparse[0]!.byteLength,
      ],
    ] as const) {
      ctx.log(`aggregation: ${label}, against per-parameter loops`);
      const m = paired(pollen, naive, ctx.runs, target);
      rows.push({
        suite: 'aggregation',
        name: `updates/s folded into the sum, d = ${d.toLocaleString('en')}, ${label}`,
        value: sig(m.value),
        unit: 'updates/s',
        baseline: {
          name: 'strawman: per-parameter loop over JS arrays',
          value: sig(m.baseline),
          unit: 'updates/s',
        },
        ratio: sig(m.ratio),
        ratioMeaning: 'x the strawman',
        runs: ctx.runs,
        extra: { frameBytes: bytes },
        note:
          label === 'dense f32'
            ? 'checkUpload + WeightedAccumulator.add; the strawman decodes into a JS array and loops over it three times'
            : 'decodeFrame + accumulateSparse, O(k); the strawman densifies and loops over d',
      });
    }
    return rows;
  },
};
