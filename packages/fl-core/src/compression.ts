import {
  CodecError,
  decodeSortedIndices,
  kForDensity,
  type UploadPlan,
  warmupDensity,
} from '@pollen/compression';
import { type DownloadSettings, validateDownload } from './download.ts';
import { PollenError } from './errors.ts';
import type { PrivacySettings } from './privacy/settings.ts';
import { type Binary, type RoundStartMessage, toBytes } from './protocol.ts';
import type { StrategyConfig } from './strategies/config.ts';
import { expectInRange, expectInt, expectObject, expectOneOf } from './validate.ts';

/**
 * A task's upload compression: which coordinates a client sends, at how many bits, and
 * whether what it leaves out is carried to its next update (error feedback). The encoder is
 * `encodeUpload` of @pollen/compression, the same in browsers and Node.
 */

/** Which coordinates an upload carries. */
export type CompressionKind = 'none' | 'topk' | 'randomk' | 'shared';
/** Bits per sent value: 32 is the task's float codec (f32 or f16). */
export type CompressionBits = 32 | 8 | 4 | 2;

export const COMPRESSION_KINDS: readonly CompressionKind[] = ['none', 'topk', 'randomk', 'shared'];
const BITS: readonly CompressionBits[] = [32, 8, 4, 2];

export interface CompressionSettings {
  /**
   * 'none': every coordinate. 'topk': each client's k largest in magnitude, indices sent
   * (Lin et al. 2018). 'randomk': k drawn at random by each client (Stich et al. 2018).
   * 'shared': the coordinator picks one set per round, the top of a momentum of its recent
   * aggregates plus random exploration, and every client sends its values there; the form
   * secure aggregation can sum.
   */
  readonly kind: CompressionKind;
  /** Share of the coordinates sent, in (0, 1]; 1 for 'none'. */
  readonly fraction: number;
  /** 32 (the task's float codec) or 8, 4, 2 bits of unbiased stochastic quantization (QSGD). */
  readonly bits: CompressionBits;
  /** Keep what was not sent on the device and add it to the next update. */
  readonly errorFeedback: boolean;
  /** 'shared': the share of the set drawn at random rather than from the momentum, in [0, 1]. */
  readonly exploration: number;
  /**
   * 'shared': beta of the coordinator's momentum of per-round magnitudes that scores the
   * coordinates (coordinates.ts of the coordinator), in [0, 1).
   */
  readonly momentum: number;
  /**
   * Deep Gradient Compression's device-side terms (Lin et al. 2018; docs/design.md, "Upload
   * compression"), each present only when set, so a task without them is stored and sent as
   * before. `momentumCorrection`: m in (0, 1) of the device's momentum of its deltas across
   * the rounds it joins, accumulated into the residual and masked where values were sent.
   */
  readonly momentumCorrection?: number;
  /** DGC's local clipping: the delta's L2 bound before it enters the residual. */
  readonly updateClipNorm?: number;
  /** DGC's warm-up: rounds over which the density shrinks from `warmupFraction` to `fraction`. */
  readonly warmupRounds?: number;
  /** The density of round 1 under a warm-up, above `fraction` (default max(0.25, fraction)). */
  readonly warmupFraction?: number;
  /**
   * 'shared': the weight of the optimistic rate a never-sent coordinate is scored with, times
   * the mean measured rate (coordinates.ts of the coordinator); absent: 1, 0: none.
   */
  readonly optimism?: number;
  /**
   * How devices download the model (download.ts); absent: dense, so a task without the block
   * reads back byte for byte as before.
   */
  readonly download?: DownloadSettings;
}

/** No compression: dense float uploads, as before compression existed. */
export const NO_COMPRESSION: CompressionSettings = {
  kind: 'none',
  fraction: 1,
  bits: 32,
  errorFeedback: false,
  exploration: 0,
  momentum: 0,
};

const KEYS = new Set([
  'kind',
  'fraction',
  'bits',
  'errorFeedback',
  'exploration',
  'momentum',
  'momentumCorrection',
  'updateClipNorm',
  'warmupRounds',
  'warmupFraction',
  'optimism',
  'download',
]);

/** Check an untrusted `compression` block (INVALID_TASK naming the field); absent: none. */
export function validateCompression(input: unknown): CompressionSettings {
  if (input === undefined) return NO_COMPRESSION;
  const obj = expectObject('compression', input, 'INVALID_TASK');
  for (const key of Object.keys(obj)) {
    if (!KEYS.has(key)) throw new PollenError('INVALID_TASK', `"compression.${key}" is not a setting`);
  }
  const kind = expectOneOf('compression.kind', obj.kind ?? 'none', COMPRESSION_KINDS, 'INVALID_TASK');
  const bits = obj.bits ?? 32;
  if (!BITS.includes(bits as CompressionBits)) {
    throw new PollenError('INVALID_TASK', `"compression.bits" expected 32, 8, 4 or 2, got ${String(bits)}`);
  }
  const sparse = kind !== 'none';
  const fraction = sparse ? expectInRange('compression.fraction', obj.fraction, 1e-6, 1, 'INVALID_TASK') : 1;
  if (!sparse && obj.fraction !== undefined && obj.fraction !== 1) {
    throw new PollenError(
      'INVALID_TASK',
      '"compression.fraction" needs a sparse kind (topk, randomk, shared)',
    );
  }
  const errorFeedback = obj.errorFeedback ?? (sparse || bits !== 32);
  if (typeof errorFeedback !== 'boolean') {
    throw new PollenError(
      'INVALID_TASK',
      `"compression.errorFeedback" expected boolean, got ${typeof errorFeedback}`,
    );
  }
  const shared = kind === 'shared';
  // A validated block (0 for both) reads back as it was written.
  const unused = (v: unknown): boolean => v === undefined || v === 0;
  if (!shared && (!unused(obj.exploration) || !unused(obj.momentum) || obj.optimism !== undefined)) {
    throw new PollenError(
      'INVALID_TASK',
      '"compression.exploration", "momentum" and "optimism" belong to kind "shared"',
    );
  }
  const download = validateDownload(obj.download);
  return {
    kind,
    fraction,
    bits: bits as CompressionBits,
    errorFeedback,
    exploration: shared
      ? expectInRange('compression.exploration', obj.exploration ?? 0.1, 0, 1, 'INVALID_TASK')
      : 0,
    momentum: shared
      ? expectInRange('compression.momentum', obj.momentum ?? 0.9, 0, 0.999, 'INVALID_TASK')
      : 0,
    ...validateDgc(obj, sparse, errorFeedback, fraction),
    ...(obj.optimism !== undefined
      ? { optimism: expectInRange('compression.optimism', obj.optimism, 0, 100, 'INVALID_TASK') }
      : {}),
    ...(download.kind === 'dense' ? {} : { download }),
  };
}

/** DGC's keys of a `compression` block: only those set come back. */
function validateDgc(
  obj: Record<string, unknown>,
  sparse: boolean,
  errorFeedback: boolean,
  fraction: number,
): Pick<CompressionSettings, 'momentumCorrection' | 'updateClipNorm' | 'warmupRounds' | 'warmupFraction'> {
  const out: {
    momentumCorrection?: number;
    updateClipNorm?: number;
    warmupRounds?: number;
    warmupFraction?: number;
  } = {};
  const needs = (key: string, feedback: boolean): void => {
    if (!sparse) {
      throw new PollenError(
        'INVALID_TASK',
        `"compression.${key}" needs a sparse kind (topk, randomk, shared)`,
      );
    }
    if (feedback && !errorFeedback) {
      throw new PollenError('INVALID_TASK', `"compression.${key}" needs "compression.errorFeedback" true`);
    }
  };
  if (obj.momentumCorrection !== undefined && obj.momentumCorrection !== 0) {
    needs('momentumCorrection', true);
    out.momentumCorrection = expectInRange(
      'compression.momentumCorrection',
      obj.momentumCorrection,
      1e-6,
      0.999,
      'INVALID_TASK',
    );
  }
  if (obj.updateClipNorm !== undefined) {
    needs('updateClipNorm', true);
    out.updateClipNorm = expectInRange(
      'compression.updateClipNorm',
      obj.updateClipNorm,
      1e-12,
      1e12,
      'INVALID_TASK',
    );
  }
  if (obj.warmupRounds !== undefined && obj.warmupRounds !== 0) {
    needs('warmupRounds', false);
    out.warmupRounds = expectInt('compression.warmupRounds', obj.warmupRounds, 1, 10_000, 'INVALID_TASK');
    const start = obj.warmupFraction ?? Math.max(0.25, fraction);
    if (typeof start !== 'number' || !(start > fraction && start <= 1)) {
      throw new PollenError(
        'INVALID_TASK',
        `"compression.warmupFraction" expected a number above "fraction" (${fraction}) and at most 1, got ${String(start)}`,
      );
    }
    out.warmupFraction = start;
  } else if (obj.warmupFraction !== undefined) {
    throw new PollenError('INVALID_TASK', '"compression.warmupFraction" needs "compression.warmupRounds"');
  }
  return out;
}

/**
 * Refuse combinations that cannot work, at task creation:
 * - a robust rule (median, trimmed mean, Krum, norm bound) with sparse uploads: they compare
 *   clients coordinate by coordinate or by distance, and a coordinate one client did not send
 *   reads as a zero it never meant (a median of mostly zeros is zero);
 * - per-client top-k under differential privacy: the indices are sent in the clear and are a
 *   function of the private data, with no noise on them (random-k and the shared set are
 *   chosen without looking at the data, so they are allowed);
 * - quantization when the task clips: stochastic rounding moves a clipped update off its norm
 *   bound, which the coordinator enforces and the accountant assumes;
 * - any compression in buffered mode (FedBuff), not wired there yet;
 * - under secure aggregation, anything but dense or the shared set at 32 bits: masked vectors
 *   only add up coordinate by coordinate on coordinates every client sent, in the fixed-point
 *   encoding secure aggregation does itself.
 */
export function checkCompressionCompatibility(
  compression: CompressionSettings,
  strategy: StrategyConfig,
  privacy: PrivacySettings,
  secureAggregation = false,
  mode: 'sync' | 'buffered' = 'sync',
): void {
  if (mode === 'buffered' && (compression.kind !== 'none' || compression.bits !== 32)) {
    throw new PollenError(
      'INVALID_TASK',
      '"compression" is not wired into buffered rounds yet (one model handed out at many times: no per-round set or codec); use rounds.mode "sync"',
    );
  }
  if (
    secureAggregation &&
    (compression.kind === 'topk' || compression.kind === 'randomk' || compression.bits !== 32)
  ) {
    throw new PollenError(
      'INVALID_TASK',
      `"compression" ${compression.kind} at ${compression.bits} bits cannot go with secure aggregation: use kind "shared" (or "none") at 32 bits`,
    );
  }
  const sparse = compression.kind !== 'none';
  if (sparse && strategy.robust.kind !== 'none') {
    throw new PollenError(
      'INVALID_TASK',
      `"compression.kind" "${compression.kind}" cannot go with the robust rule "${strategy.robust.kind}": it needs every client's full vector`,
    );
  }
  if (compression.kind === 'topk' && privacy.mode !== 'off') {
    throw new PollenError(
      'INVALID_TASK',
      `"compression.kind" "topk" leaks which coordinates are large, unnoised, under privacy mode "${privacy.mode}": use "randomk" or "shared"`,
    );
  }
  if (
    secureAggregation &&
    (compression.momentumCorrection !== undefined || compression.updateClipNorm !== undefined)
  ) {
    throw new PollenError(
      'INVALID_TASK',
      '"compression.momentumCorrection" and "updateClipNorm" act on the device\'s residual, which secure rounds do not keep yet',
    );
  }
  const clips = privacy.mode !== 'off' || privacy.clipNorm !== undefined || privacy.adaptive !== undefined;
  if (compression.bits !== 32 && clips) {
    throw new PollenError(
      'INVALID_TASK',
      '"compression.bits" below 32 cannot go with clipping: quantizing after the noise breaks the norm bound; use bits 32 (or codec f16)',
    );
  }
}

/**
 * The density of round `roundId` (DGC's warm-up: from `warmupFraction` down to `fraction` over
 * `warmupRounds`). Without a round: the largest of any round, which bounds every upload.
 */
export function roundFraction(compression: CompressionSettings, roundId?: number): number {
  if (compression.kind === 'none') return 1;
  const { fraction, warmupRounds, warmupFraction } = compression;
  if (!warmupRounds || warmupFraction === undefined) return fraction;
  if (roundId === undefined) return Math.max(fraction, warmupFraction);
  return warmupDensity(fraction, warmupFraction, warmupRounds, roundId);
}

/**
 * Values an upload of this compression carries for a model of `dimension` coordinates in
 * round `roundId`; without a round, the most of any round.
 */
export function compressionK(compression: CompressionSettings, dimension: number, roundId?: number): number {
  return compression.kind === 'none'
    ? dimension
    : kForDensity(dimension, roundFraction(compression, roundId));
}

/**
 * The client's side: the upload plan a round start asks for, checked (it comes over the
 * network): INVALID_MESSAGE for a block that is not one, BAD_FRAME for a coordinate list that
 * does not decode to k sorted coordinates below the dimension.
 */
export function uploadPlanFor(
  msg: Pick<RoundStartMessage, 'codec' | 'compression'>,
  dimension: number,
): UploadPlan {
  const precision = expectOneOf('codec', msg.codec, ['f32', 'f16'], 'INVALID_MESSAGE');
  if (msg.compression === undefined) {
    return { kind: 'none', bits: 32, precision, k: dimension, errorFeedback: false };
  }
  const c = expectObject('compression', msg.compression, 'INVALID_MESSAGE');
  const kind = expectOneOf('compression.kind', c.kind, COMPRESSION_KINDS, 'INVALID_MESSAGE');
  if (!BITS.includes(c.bits as CompressionBits)) {
    throw new PollenError(
      'INVALID_MESSAGE',
      `"compression.bits" expected 32, 8, 4 or 2, got ${String(c.bits)}`,
    );
  }
  const bits = c.bits as CompressionBits;
  const k = expectInt('compression.k', c.k, 0, dimension, 'INVALID_MESSAGE');
  if (typeof c.errorFeedback !== 'boolean') {
    throw new PollenError('INVALID_MESSAGE', '"compression.errorFeedback" expected boolean');
  }
  const dgc: { momentumCorrection?: number; updateClipNorm?: number } = {};
  if (c.momentumCorrection !== undefined) {
    dgc.momentumCorrection = expectInRange(
      'compression.momentumCorrection',
      c.momentumCorrection,
      0,
      0.999,
      'INVALID_MESSAGE',
    );
  }
  if (c.updateClipNorm !== undefined) {
    dgc.updateClipNorm = expectInRange(
      'compression.updateClipNorm',
      c.updateClipNorm,
      1e-12,
      1e12,
      'INVALID_MESSAGE',
    );
  }
  if ((dgc.momentumCorrection || dgc.updateClipNorm !== undefined) && (!c.errorFeedback || kind === 'none')) {
    throw new PollenError(
      'INVALID_MESSAGE',
      '"compression.momentumCorrection" and "updateClipNorm" need sparse error feedback',
    );
  }
  const plan = {
    kind,
    bits,
    precision,
    k: kind === 'none' ? dimension : k,
    errorFeedback: c.errorFeedback,
    ...dgc,
  };
  if (kind !== 'shared') return plan;
  const list = c.coordinates;
  if (!(list instanceof Uint8Array) && !(list instanceof ArrayBuffer)) {
    throw new PollenError('INVALID_MESSAGE', '"compression.coordinates" expected binary for kind "shared"');
  }
  try {
    return { ...plan, coordinates: decodeSortedIndices(toBytes(list as Binary), k, dimension) };
  } catch (err) {
    if (err instanceof CodecError)
      throw new PollenError('BAD_FRAME', `"compression.coordinates": ${err.message}`);
    throw err;
  }
}
