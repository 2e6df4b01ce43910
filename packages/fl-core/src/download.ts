import type { CompressionSettings } from './compression.ts';
import { PollenError } from './errors.ts';
import { expectInRange, expectInt, expectObject, expectOneOf } from './validate.ts';

/**
 * A task's model downloads (docs/design.md, "Compressed downloads"): `dense` sends every
 * selected device the whole model each round, as before; `delta` sends a device that holds an
 * earlier broadcast model the compressed differences since (`encodeModelDelta` of
 * @pollen/compression), with the compression error carried into the next difference on the
 * coordinator.
 */

/** Bits per sent value of a delta: 32 (float32, exact), 16 (float16), 8 or 4 (quantized). */
export type DownloadBits = 32 | 16 | 8 | 4;

export type DownloadSettings =
  | { readonly kind: 'dense' }
  | {
      readonly kind: 'delta';
      /** Bits per sent value of the difference. */
      readonly bits: DownloadBits;
      /** Share of the coordinates sent, largest differences first, in (0, 1]. */
      readonly fraction: number;
      /** How many versions' deltas the coordinator keeps: a device further behind gets the whole model. */
      readonly keep: number;
    };

/** Dense downloads: the task's default. */
export const DENSE_DOWNLOAD: DownloadSettings = { kind: 'dense' };

const BITS: readonly DownloadBits[] = [32, 16, 8, 4];
const KEYS = new Set(['kind', 'bits', 'fraction', 'keep']);
/** Most versions of deltas a coordinator keeps per task. */
export const MAX_DOWNLOAD_KEEP = 64;

/** Check an untrusted `compression.download` block (INVALID_TASK naming the field); absent: dense. */
export function validateDownload(input: unknown): DownloadSettings {
  if (input === undefined) return DENSE_DOWNLOAD;
  const obj = expectObject('compression.download', input, 'INVALID_TASK');
  for (const key of Object.keys(obj)) {
    if (!KEYS.has(key)) {
      throw new PollenError('INVALID_TASK', `"compression.download.${key}" is not a setting`);
    }
  }
  const kind = expectOneOf(
    'compression.download.kind',
    obj.kind ?? 'dense',
    ['dense', 'delta'],
    'INVALID_TASK',
  );
  if (kind === 'dense') {
    if (Object.keys(obj).some((k) => k !== 'kind')) {
      throw new PollenError(
        'INVALID_TASK',
        '"compression.download" bits, fraction and keep belong to kind "delta"',
      );
    }
    return DENSE_DOWNLOAD;
  }
  const bits = obj.bits ?? 8;
  if (!BITS.includes(bits as DownloadBits)) {
    throw new PollenError(
      'INVALID_TASK',
      `"compression.download.bits" expected 32, 16, 8 or 4, got ${String(bits)}`,
    );
  }
  return {
    kind,
    bits: bits as DownloadBits,
    fraction: expectInRange('compression.download.fraction', obj.fraction ?? 1, 1e-6, 1, 'INVALID_TASK'),
    keep: expectInt('compression.download.keep', obj.keep ?? 8, 1, MAX_DOWNLOAD_KEEP, 'INVALID_TASK'),
  };
}

/**
 * Refuse delta downloads where they are not wired: buffered rounds (FedBuff) hand the model out
 * one client at a time, each at its own version, outside the per-round start that carries the
 * delta chain.
 */
export function checkDownloadCompatibility(download: DownloadSettings, mode: 'sync' | 'buffered'): void {
  if (download.kind === 'delta' && mode === 'buffered') {
    throw new PollenError(
      'INVALID_TASK',
      '"compression.download.kind" "delta" is not wired into buffered rounds (each hand-out is its own version, outside a round start); use rounds.mode "sync" or download "dense"',
    );
  }
}

/** A validated task's download settings (its `compression.download`, dense when absent). */
export function downloadOf(compression: CompressionSettings): DownloadSettings {
  return compression.download ?? DENSE_DOWNLOAD;
}
