import { join } from 'node:path';
import {
  bodyToDense,
  decodeFrame,
  encodeDense,
  encodeFrame,
  kForDensity,
  type QuantBits,
  quantize,
  sfc32,
  topK,
} from '@pollen/compression';
import { l2norm } from '@pollen/fl-core';
import { realDelta } from '../lib/mnist.ts';
import { RESULTS_DIR } from '../lib/paths.ts';
import { median, sig } from '../lib/stats.ts';
import { parseSimArgs } from '../sim/options.ts';
import { runSim } from '../sim/run.ts';
import type { BenchContext, BenchRow, Suite } from './types.ts';

interface Setting {
  readonly label: string;
  readonly encode: (x: Float32Array) => Uint8Array;
  /** A dense codec whose accuracy this suite measures with short simulations. */
  readonly wired: 'f32' | 'f16' | null;
}

function topKSetting(density: number, bits: QuantBits): Setting {
  return {
    label: `top-k ${density * 100}%, ${bits}-bit values`,
    wired: null,
    encode: (x) => {
      const sparse = topK(x, kForDensity(x.length, density));
      const quantized = quantize(sparse.values, bits, sfc32(bits));
      return encodeFrame({
        kind: 'sparse-quantized',
        dimension: x.length,
        indices: sparse.indices,
        quantized,
      });
    },
  };
}

const SETTINGS: readonly Setting[] = [
  { label: 'dense f32', wired: 'f32', encode: (x) => encodeDense(x, 'f32') },
  { label: 'dense f16', wired: 'f16', encode: (x) => encodeDense(x, 'f16') },
  ...[0.1, 0.01, 0.001].flatMap((p) => [topKSetting(p, 8), topKSetting(p, 4)]),
];

/** Held-out accuracy of a short Node simulation with this upload codec (median of runs). */
async function accuracyWith(codec: 'f32' | 'f16', ctx: BenchContext): Promise<number> {
  const accuracies: number[] = [];
  for (let run = 0; run < ctx.runs; run++) {
    const options = parseSimArgs(
      [
        '--node',
        '10',
        '--rounds',
        '5',
        '--partition',
        'iid',
        '--epochs',
        '1',
        '--batch',
        '32',
        '--lr',
        '0.1',
      ].concat(
        ['--compression', codec, '--seed', String(run + 1), '--quiet'],
        ['--out', join(RESULTS_DIR, 'sim', `bench-compression-${codec}-${run + 1}`)],
      ),
    );
    const report = await runSim(options, { command: `bench compression ${codec}` });
    if (!report.summary.ok || report.summary.accuracy === null) {
      throw new Error(`the ${codec} simulation failed: ${report.error ?? report.summary.stopped}`);
    }
    accuracies.push(report.summary.accuracy);
  }
  return median(accuracies);
}

/**
 * Upload bytes of each compression setting for a real MLP update (d = 101,770), relative to
 * dense float32, with the relative L2 error the encoding leaves (top-k without error
 * feedback: what is not sent counts as error). Held-out accuracy here for the dense codecs
 * (f32, f16); the sparse and quantized settings' accuracy takes tens of rounds with error
 * feedback, which `pnpm bench:compression` measures.
 */
export const compressionSuite: Suite = {
  id: 'compression',
  title: 'Upload bytes per compression setting',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    ctx.log('compression: training one client for a real update');
    const x = await realDelta();
    const norm = l2norm(x);
    const denseBytes = encodeDense(x, 'f32').byteLength;
    const accuracy = new Map<string, number>();
    if (!ctx.tiny) {
      for (const codec of ['f32', 'f16'] as const) {
        ctx.log(`compression: ${ctx.runs} Node simulations with ${codec} uploads`);
        accuracy.set(codec, await accuracyWith(codec, ctx));
      }
    }
    return SETTINGS.map((s): BenchRow => {
      const frame = s.encode(x);
      const decoded = bodyToDense(decodeFrame(frame, { dimension: x.length }).body);
      const diff = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) diff[i] = decoded[i]! - x[i]!;
      const acc = s.wired ? (accuracy.get(s.wired) ?? null) : null;
      const denseAcc = accuracy.get('f32') ?? null;
      return {
        suite: 'compression',
        name: `upload bytes, ${s.label}`,
        value: frame.byteLength,
        unit: 'bytes',
        baseline: { name: 'dense f32', value: denseBytes, unit: 'bytes' },
        ratio: sig(denseBytes / frame.byteLength),
        ratioMeaning: 'x fewer bytes than dense f32',
        runs: 1,
        extra: {
          relativeError: sig(l2norm(diff) / norm),
          heldOutAccuracy: acc,
          accuracyDeltaVsF32: acc !== null && denseAcc !== null ? sig(acc - denseAcc) : null,
        },
        ...(s.wired
          ? ctx.tiny
            ? { note: 'accuracy not measured in the smoke variant' }
            : { note: `accuracy: median of ${ctx.runs} Node simulations, 10 clients, IID, 5 rounds` }
          : {
              note: 'held-out accuracy of this setting: pnpm bench:compression (bench/results/compression.json), a longer run than this suite takes',
            }),
      };
    });
  },
};
