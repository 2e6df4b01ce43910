import { applyModelDeltas, CodecError, decodeDense } from '@pollen/compression';
import {
  type Binary,
  MAX_DOWNLOAD_KEEP,
  type ModelDownload,
  type ModelRef,
  PollenError,
  type RoundStartMessage,
  toBytes,
} from '@pollen/fl-core';
import { sha256Hex } from './frozen-base.ts';

/**
 * Compressed downloads on the device (docs/design.md, "Compressed downloads"): the device keeps
 * the last broadcast model of its task with its version and checksum, says so in its hello,
 * and rebuilds a round's model from the delta frames the round start carries. A model that
 * does not check out (a corrupted cache, a bad frame) is discarded and the round's whole model
 * asked for (`round:model`).
 */

/** A broadcast model a device keeps: the weights and what names them. */
export interface CachedModel extends ModelRef {
  readonly weights: Float32Array;
}

/** Where a device keeps its task's last broadcast model: IndexedDB in a browser, memory in Node. */
export interface ModelCache {
  load(taskId: string): Promise<CachedModel | null>;
  save(taskId: string, model: CachedModel): Promise<void>;
  /** Forget the task's model (it did not check out). */
  clear(taskId: string): Promise<void>;
}

/** A ModelCache in memory, for Node clients. */
export class InMemoryModelCache implements ModelCache {
  readonly models = new Map<string, CachedModel>();

  async load(taskId: string): Promise<CachedModel | null> {
    return this.models.get(taskId) ?? null;
  }

  async save(taskId: string, model: CachedModel): Promise<void> {
    this.models.set(taskId, model);
  }

  async clear(taskId: string): Promise<void> {
    this.models.delete(taskId);
  }
}

/** SHA-256 of a model's float32 values (little endian, as every platform Pollen runs on), hex. */
export function modelChecksum(weights: Float32Array): Promise<string> {
  return sha256Hex(new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength));
}

const CHECKSUM = /^[0-9a-f]{64}$/;

/**
 * Check a round start's `download` block as it came from the network (INVALID_MESSAGE): a
 * version up to the round's (none between: the device holds the round's model already), one binary frame per version between, a hex SHA-256.
 */
export function parseDownload(msg: RoundStartMessage): ModelDownload {
  const d = msg.download as unknown;
  if (typeof d !== 'object' || d === null)
    throw new PollenError('INVALID_MESSAGE', '"download" expected object');
  const { from, frames, checksum } = d as Record<string, unknown>;
  if (typeof from !== 'number' || !Number.isInteger(from) || from < 0 || from > msg.modelVersion) {
    throw new PollenError('INVALID_MESSAGE', `"download.from" expected a version up to ${msg.modelVersion}`);
  }
  const count = msg.modelVersion - from;
  if (!Array.isArray(frames) || frames.length !== count || count > MAX_DOWNLOAD_KEEP) {
    throw new PollenError(
      'INVALID_MESSAGE',
      `"download.frames" expected ${count} frames (at most ${MAX_DOWNLOAD_KEEP})`,
    );
  }
  if (!frames.every((f) => f instanceof Uint8Array || f instanceof ArrayBuffer)) {
    throw new PollenError('INVALID_MESSAGE', '"download.frames" expected binary frames');
  }
  if (typeof checksum !== 'string' || !CHECKSUM.test(checksum)) {
    throw new PollenError('INVALID_MESSAGE', '"download.checksum" expected a lower-case hex SHA-256');
  }
  if (msg.weights !== undefined)
    throw new PollenError('INVALID_MESSAGE', '"download" comes without "weights"');
  return { from, frames: frames as Binary[], checksum };
}

/**
 * The round's model from the cached one and the download: the cache must hold version `from`,
 * the frames must decode and lead to a model with the announced checksum. BAD_FRAME (or
 * STALE_MODEL for a cache of another version) otherwise; the caller then discards the cache.
 */
export async function rebuildModel(
  cached: CachedModel | null,
  download: ModelDownload,
): Promise<CachedModel & { readonly version: number }> {
  if (!cached || cached.version !== download.from) {
    throw new PollenError(
      'STALE_MODEL',
      `the download starts from version ${download.from}; this device holds ${cached ? cached.version : 'none'}`,
    );
  }
  let weights: Float32Array;
  try {
    weights = applyModelDeltas(cached.weights, download.frames.map(toBytes), download.from);
  } catch (err) {
    if (err instanceof CodecError) throw new PollenError('BAD_FRAME', `download: ${err.message}`);
    throw err;
  }
  const checksum = await modelChecksum(weights);
  if (checksum !== download.checksum) {
    throw new PollenError(
      'BAD_FRAME',
      `the rebuilt model has SHA-256 ${checksum}, expected ${download.checksum}`,
    );
  }
  return { version: download.from + download.frames.length, checksum, weights };
}

/**
 * A dense model frame that must have `expected` as its checksum (a round start's `weights`
 * with `modelChecksum`, or the answer to `round:model`). BAD_FRAME otherwise.
 */
export async function checkedDenseModel(
  frame: Binary,
  expected: string,
  version: number,
): Promise<CachedModel> {
  let weights: Float32Array;
  try {
    weights = decodeDense(toBytes(frame)).vector;
  } catch (err) {
    if (err instanceof CodecError) throw new PollenError('BAD_FRAME', `weights: ${err.message}`);
    throw err;
  }
  const checksum = await modelChecksum(weights);
  if (checksum !== expected) {
    throw new PollenError('BAD_FRAME', `the model has SHA-256 ${checksum}, expected ${expected}`);
  }
  return { version, checksum, weights };
}
