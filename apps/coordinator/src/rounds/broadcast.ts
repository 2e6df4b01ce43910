import { createHash } from 'node:crypto';
import { encodeModelDelta } from '@pollen/compression';
import {
  downloadOf,
  hashSeed,
  type ModelDownload,
  type ModelRef,
  type TaskSpec,
  toBytes,
} from '@pollen/fl-core';

/** The broadcast model of one version: what devices hold, and its checksum. */
export interface BroadcastModel extends ModelRef {
  readonly weights: Float32Array;
}

/** SHA-256 of a model's float32 values (little endian), lower-case hex: `ModelRef.checksum`. */
export function modelChecksum(weights: Float32Array): string {
  return createHash('sha256')
    .update(new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength))
    .digest('hex');
}

/**
 * A task's broadcast models under compressed downloads (docs/design.md, "Compressed
 * downloads"): next to the true model w_v the coordinator keeps ŵ_v, what devices hold. On each
 * commit D_v = encode(w_v - ŵ_{v-1}) and ŵ_v = ŵ_{v-1} + decode(D_v), so what an encoding leaves
 * out is carried into the next difference (error feedback on the server, as DoubleSqueeze, Tang
 * et al. 2019, and EF21, Richtárik et al. 2021, do). The last `keep` frames and the checksum of
 * each ŵ are kept, in memory: after a restart, or on a node of a cluster that missed a commit,
 * ŵ starts again as w, and every device downloads the whole model once.
 */
export class BroadcastModels {
  private current: BroadcastModel | null = null;
  /** D_v by v, for the versions in the window. */
  private readonly frames = new Map<number, Uint8Array>();
  /** Checksum of ŵ_v by v, for the versions in the window and the current one. */
  private readonly checksums = new Map<number, string>();

  /** A version was committed: advance ŵ by one delta, or start again from w when one was missed. */
  committed(spec: TaskSpec, version: number, weights: Float32Array): void {
    const download = downloadOf(spec.compression);
    if (download.kind !== 'delta') return;
    const previous = this.current;
    if (!previous || previous.version !== version - 1 || previous.weights.length !== weights.length) {
      this.reset(version, weights);
      return;
    }
    const { frame, reconstructed } = encodeModelDelta(weights, previous.weights, download, {
      round: version,
      taskTag: hashSeed(spec.id),
    });
    this.current = { version, weights: reconstructed, checksum: modelChecksum(reconstructed) };
    this.frames.set(version, frame);
    this.checksums.set(version, this.current.checksum);
    for (const v of this.frames.keys()) if (v <= version - download.keep) this.frames.delete(v);
    for (const v of this.checksums.keys()) if (v < version - download.keep) this.checksums.delete(v);
  }

  /** ŵ of the version a round starts from (w itself when this node has no chain up to it). */
  at(version: number, weights: Float32Array): BroadcastModel {
    if (this.current?.version !== version || this.current.weights.length !== weights.length) {
      this.reset(version, weights);
    }
    return this.current!;
  }

  /**
   * The download that takes a device holding `held` to ŵ of `version`: the frames D_{u+1..v},
   * when `held` is a version of the window with the checksum this node gave it; null otherwise
   * (the device gets the whole model).
   */
  downloadFor(held: ModelRef | null, version: number): ModelDownload | null {
    const target = this.current;
    if (!held || target?.version !== version || held.version > version) return null;
    if (this.checksums.get(held.version) !== held.checksum) return null;
    const frames: Uint8Array[] = [];
    for (let v = held.version + 1; v <= version; v++) {
      const frame = this.frames.get(v);
      if (!frame) return null;
      frames.push(frame);
    }
    return { from: held.version, frames, checksum: target.checksum };
  }

  private reset(version: number, weights: Float32Array): void {
    const copy = Float32Array.from(weights);
    this.current = { version, weights: copy, checksum: modelChecksum(copy) };
    this.frames.clear();
    this.checksums.clear();
    this.checksums.set(version, this.current.checksum);
  }
}

/** Bytes of a download's frames. */
export function downloadBytes(download: ModelDownload): number {
  return download.frames.reduce((sum, f) => sum + toBytes(f).byteLength, 0);
}
