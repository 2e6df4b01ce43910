import { applyModelDeltas } from '@pollen/compression';
import { type TaskSpec, validateTaskSpec } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { BroadcastModels, modelChecksum } from './broadcast.ts';
import { type RoundStart, startFor } from './start-message.ts';

const D = 64;

function spec(download: Record<string, unknown>): TaskSpec {
  return validateTaskSpec({
    id: 'tiny',
    name: 'tiny',
    modelTopology: {},
    inputShape: [4],
    numClasses: 2,
    training: { epochs: 1, batchSize: 4, learningRate: 0.1 },
    rounds: { cohortSize: 3, minReports: 2, deadlineMs: 1000 },
    compression: { download },
  });
}

/** w_0 .. w_n: each version a small step from the one before. */
function versions(n: number): Float32Array[] {
  const out = [Float32Array.from({ length: D }, (_, i) => Math.sin(i))];
  for (let v = 1; v <= n; v++) out.push(Float32Array.from(out[v - 1]!, (x, i) => x + 0.01 * Math.cos(v * i)));
  return out;
}

describe('broadcast models', () => {
  it('carry the compression error into the next delta, and devices rebuild ŵ bit for bit', () => {
    const s = spec({ kind: 'delta', bits: 4, fraction: 0.25, keep: 8 });
    const w = versions(6);
    const b = new BroadcastModels();
    const start = b.at(0, w[0]!);
    expect(start.weights).toEqual(w[0]);
    for (let v = 1; v <= 6; v++) b.committed(s, v, w[v]!);
    const now = b.at(6, w[6]!);
    const download = b.downloadFor({ version: 0, checksum: start.checksum }, 6)!;
    expect(download.frames).toHaveLength(6);
    const device = applyModelDeltas(w[0]!, download.frames as Uint8Array[], 0);
    expect(modelChecksum(device)).toBe(download.checksum);
    expect(device).toEqual(now.weights);
    // Error feedback: with the target held still, each delta sends what is still missing.
    for (let v = 7; v <= 30; v++) b.committed(s, v, w[6]!);
    const settled = b.at(30, w[6]!).weights;
    let worst = 0;
    for (let i = 0; i < D; i++) worst = Math.max(worst, Math.abs(settled[i]! - w[6]![i]!));
    expect(worst).toBeLessThan(1e-6);
  });

  it('is lossless at 32 bits over every coordinate', () => {
    const s = spec({ kind: 'delta', bits: 32, fraction: 1 });
    const w = versions(3);
    const b = new BroadcastModels();
    b.at(0, w[0]!);
    for (let v = 1; v <= 3; v++) b.committed(s, v, w[v]!);
    expect(b.at(3, w[3]!).weights).toEqual(w[3]);
  });

  it('sends the whole model to a device further behind than keep, of unknown checksum, or after a restart', () => {
    const s = spec({ kind: 'delta', bits: 8, keep: 2 });
    const w = versions(4);
    const b = new BroadcastModels();
    const checksums = [b.at(0, w[0]!).checksum];
    for (let v = 1; v <= 4; v++) {
      b.committed(s, v, w[v]!);
      checksums.push(b.at(v, w[v]!).checksum);
    }
    expect(b.downloadFor({ version: 1, checksum: checksums[1]! }, 4)).toBeNull();
    expect(b.downloadFor({ version: 2, checksum: checksums[2]! }, 4)?.frames).toHaveLength(2);
    expect(b.downloadFor({ version: 4, checksum: checksums[4]! }, 4)?.frames).toHaveLength(0);
    expect(b.downloadFor({ version: 3, checksum: checksums[2]! }, 4)).toBeNull();
    expect(b.downloadFor({ version: 5, checksum: checksums[4]! }, 4)).toBeNull();
    expect(b.downloadFor(null, 4)).toBeNull();
    // A restart (or a node that missed a commit) starts again from w: no chain, whole models.
    const restarted = new BroadcastModels();
    expect(restarted.at(4, w[4]!).weights).toEqual(w[4]);
    expect(restarted.downloadFor({ version: 3, checksum: checksums[3]! }, 4)).toBeNull();
    const skipped = new BroadcastModels();
    skipped.at(0, w[0]!);
    skipped.committed(s, 2, w[2]!);
    expect(skipped.at(2, w[2]!).weights).toEqual(w[2]);
  });

  it('keeps nothing for a dense task', () => {
    const b = new BroadcastModels();
    const w = versions(1);
    b.at(0, w[0]!);
    b.committed(spec({ kind: 'dense' }), 1, w[1]!);
    expect(b.downloadFor({ version: 0, checksum: modelChecksum(w[0]!) }, 1)).toBeNull();
  });
});

describe("a client's round start", () => {
  const dense = new Uint8Array(32 + 4 * D);
  const start: RoundStart = {
    message: {
      taskId: 'tiny',
      roundId: 3,
      modelVersion: 2,
      deadline: 0,
      training: { epochs: 1, batchSize: 4, learningRate: 0.1, optimizer: 'sgd' },
      codec: 'f32',
      weights: dense,
      modelChecksum: 'a'.repeat(64),
    },
    bytesPerClient: dense.byteLength + 10,
    modelBytes: dense.byteLength,
  };

  it('carries the deltas instead of the weights when they are smaller, and counts what it carries', () => {
    const download = { from: 1, frames: [new Uint8Array(40)], checksum: 'a'.repeat(64) };
    const sent = startFor(start, download);
    expect(sent.message.weights).toBeUndefined();
    expect(sent.message.download).toBe(download);
    expect(sent.bytes).toBe(40 + 10);
  });

  it('carries the whole model when the chain is not smaller, or there is none', () => {
    const big = { from: 0, frames: [new Uint8Array(dense.byteLength)], checksum: 'a'.repeat(64) };
    expect(startFor(start, big)).toEqual({ message: start.message, bytes: start.bytesPerClient });
    expect(startFor(start, null)).toEqual({ message: start.message, bytes: start.bytesPerClient });
  });
});
