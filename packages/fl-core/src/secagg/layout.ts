import { decodeFixedPointSum, encodeFixedPoint, gather } from '@pollen/compression';
import { PollenError } from '../errors.ts';
import { expectSteps } from '../strategies/fednova.ts';

/**
 * What one client's masked vector holds, word by word, in a secure round: the update's values
 * (at the round's shared coordinates, or every coordinate), SCAFFOLD's Delta c_i when the task
 * uses it, and adaptive clipping's bit. Everything the server needs of an update is in the
 * one masked vector, so it learns only sums: the bit count and Delta c as much as the update.
 * Values are clipped to [-range, range] and encoded in fixed point of `bits` bits, two's
 * complement mod 2^32 (compression's fixed-point.ts); the clipping bit is a plain 0 or 1.
 *
 * Sparsity under secure aggregation: masks cancel only coordinate by coordinate, so every
 * client of a round sends values on the same coordinate set, chosen by the server for the
 * round and sent with it; no client sends indices of its own.
 */
export interface SecAggLayout {
  /** The model's dimension. */
  readonly dimension: number;
  /** The round's shared coordinates, sorted ascending; null: dense. */
  readonly coordinates: Uint32Array | null;
  /** Whether SCAFFOLD's Delta c_i (dense, `dimension` values) follows the update. */
  readonly control: boolean;
  /** Whether adaptive clipping's bit ends the vector. */
  readonly clipBit: boolean;
  /**
   * FedNova: the update is normalized by the client's local steps (Delta_i / tau_i) and the
   * step count tau_i, a plain integer word, ends the vector, so the server learns only
   * sum tau_i and sum Delta_i / tau_i (strategies/fednova.ts). Absent: false.
   */
  readonly steps?: boolean;
  /** Fixed-point range R. */
  readonly range: number;
  /** Fixed-point width (fixedPointBits of the cohort size). */
  readonly bits: number;
}

/** Words of a masked vector of this layout: its `d` in the round's SecAgg parameters. */
export function layoutWords(layout: SecAggLayout): number {
  const values = layout.coordinates ? layout.coordinates.length : layout.dimension;
  return values + (layout.control ? layout.dimension : 0) + (layout.clipBit ? 1 : 0) + (layout.steps ? 1 : 0);
}

/** What a client puts in its masked vector. */
export interface SecAggInputParts {
  /** The update (clipped and noised already when the task uses DP), dense. */
  readonly delta: Float32Array;
  readonly controlDelta?: Float32Array;
  readonly clipBit?: 0 | 1;
  /** FedNova: the local steps tau_i; `delta` is then already Delta_i / tau_i. */
  readonly steps?: number;
}

function check(name: string, vector: Float32Array | undefined, length: number): Float32Array {
  if (!(vector instanceof Float32Array) || vector.length !== length) {
    throw new PollenError('SHAPE_MISMATCH', `"${name}" expected a Float32Array of ${length} values`);
  }
  return vector;
}

/** The client's fixed-point input for the round: `layoutWords(layout)` words. */
export function encodeSecAggInput(layout: SecAggLayout, parts: SecAggInputParts): Uint32Array {
  const { dimension, coordinates, range, bits } = layout;
  const delta = check('delta', parts.delta, dimension);
  const values = coordinates ? gather(delta, coordinates) : delta;
  const out = new Uint32Array(layoutWords(layout));
  out.set(encodeFixedPoint(values, { range, bits }), 0);
  let at = values.length;
  if (layout.control) {
    out.set(encodeFixedPoint(check('controlDelta', parts.controlDelta, dimension), { range, bits }), at);
    at += dimension;
  } else if (parts.controlDelta !== undefined) {
    throw new PollenError('INVALID_ARGUMENT', '"controlDelta" given but the round has no SCAFFOLD');
  }
  if (layout.clipBit) {
    if (parts.clipBit !== 0 && parts.clipBit !== 1) {
      throw new PollenError(
        'INVALID_ARGUMENT',
        '"clipBit" expected 0 or 1: the round uses adaptive clipping',
      );
    }
    out[at] = parts.clipBit;
    at += 1;
  }
  if (layout.steps) {
    out[at] = expectSteps('steps', parts.steps, 'INVALID_ARGUMENT');
  } else if (parts.steps !== undefined) {
    throw new PollenError('INVALID_ARGUMENT', '"steps" given but the round does not use FedNova');
  }
  return out;
}

/** The decoded sum of `count` clients' inputs. */
export interface SecAggSum {
  /** Sum of the updates, dense (zero off the shared coordinates). */
  readonly delta: Float32Array;
  readonly controlDelta?: Float32Array;
  /** How many clients sent clipping bit 1. */
  readonly clipBits?: number;
  /** FedNova: the sum of the clients' local steps (mod 2^32; at most 10^7 each). */
  readonly steps?: number;
}

/** Decode the recovered sum of `count` inputs (SecAggServer.finish's `sum`). */
export function decodeSecAggSum(layout: SecAggLayout, sum: Uint32Array, count: number): SecAggSum {
  const { dimension, coordinates, range, bits } = layout;
  if (!(sum instanceof Uint32Array) || sum.length !== layoutWords(layout)) {
    throw new PollenError('SHAPE_MISMATCH', `sum expected ${layoutWords(layout)} words`);
  }
  const options = { range, bits };
  const size = coordinates ? coordinates.length : dimension;
  const values = decodeFixedPointSum(sum.subarray(0, size), options, count);
  let delta = values;
  if (coordinates) {
    delta = new Float32Array(dimension);
    for (let j = 0; j < coordinates.length; j++) delta[coordinates[j]!] = values[j]!;
  }
  let at = size;
  let controlDelta: Float32Array | undefined;
  if (layout.control) {
    controlDelta = decodeFixedPointSum(sum.subarray(at, at + dimension), options, count);
    at += dimension;
  }
  const clipBits = layout.clipBit ? sum[at++]! : undefined;
  return {
    delta,
    ...(controlDelta ? { controlDelta } : {}),
    ...(clipBits !== undefined ? { clipBits } : {}),
    ...(layout.steps ? { steps: sum[at]! } : {}),
  };
}
