import type { SparseVector } from '@pollen/compression';
import { normalizeBySteps, PollenError } from '@pollen/fl-core';

/**
 * FedNova in a round that sees each update (round.ts): the update is normalized by its local
 * steps as it is folded in, the running sum of w_i * tau_i is kept next to it, and the mean
 * becomes tau_eff * sum_i p_i Delta_i / tau_i at aggregation (fl-core's strategies/fednova.ts).
 * Under secure aggregation the clients normalize and the steps ride in the mask instead.
 */

/** The update's steps, required exactly when the round uses FedNova (INVALID_MESSAGE otherwise). */
export function roundSteps(steps: number | undefined, fednova: boolean): number | null {
  if (!fednova) return null;
  if (steps === undefined) {
    throw new PollenError('INVALID_MESSAGE', '"steps" is required: the task uses FedNova');
  }
  return steps;
}

/** Delta_i / tau_i, dense or sparse (only the values sent are scaled). */
export function normalizeUpload(
  delta: Float32Array | SparseVector,
  steps: number,
): Float32Array | SparseVector {
  if (delta instanceof Float32Array) return normalizeBySteps(delta, steps);
  return { ...delta, values: normalizeBySteps(delta.values, steps) };
}

/** Scale the mean of normalized updates by tau_eff = weightedSteps / weight, in place. */
export function applyEffectiveSteps(mean: Float32Array, weight: number, weightedSteps: number): Float32Array {
  const tauEff = weightedSteps / weight;
  for (let i = 0; i < mean.length; i++) mean[i] = mean[i]! * tauEff;
  return mean;
}
