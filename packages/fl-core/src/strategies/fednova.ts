import { PollenError } from '../errors.ts';
import { assertFinite, assertLength, expectInt, expectPositive } from '../validate.ts';

// FedNova (Wang, Liu, Liang, Joshi and Poor 2020, "Tackling the Objective Inconsistency Problem
// in Heterogeneous Federated Optimization", NeurIPS), for clients running plain local SGD.
// Client i takes tau_i local steps and sends Delta_i = y_i - x. FedAvg's sum_i p_i Delta_i
// weighs a client by p_i * tau_i in effect, so with unequal tau_i it converges to the optimum
// of a different objective. FedNova averages normalized updates instead:
//   x+ = x + tau_eff * sum_i p_i * Delta_i / tau_i,  tau_eff = sum_i p_i * tau_i
// (the paper's eq. 6 with a_i = tau_i, vanilla SGD's ||a_i||_1, and tau_eff as in its
// experiments). The server optimizer then takes that aggregate as its Delta_t (FedOpt).

/** Local steps a client may report: 1 .. 10^7. */
export const MAX_LOCAL_STEPS = 10_000_000;

/** Check a reported local step count: a positive integer up to {@link MAX_LOCAL_STEPS}. */
export function expectSteps(
  name: string,
  value: unknown,
  code: 'INVALID_MESSAGE' | 'INVALID_ARGUMENT',
): number {
  return expectInt(name, value, 1, MAX_LOCAL_STEPS, code);
}

/** One client's report for FedNova: its delta, weight p_i (unnormalized) and steps tau_i. */
export interface FedNovaInput {
  readonly delta: Float32Array;
  readonly weight: number;
  readonly steps: number;
}

/** FedNova's aggregate of a round's reports: tau_eff * sum_i p_i Delta_i / tau_i, p_i = w_i / sum w. */
export function fedNovaAggregate(inputs: readonly FedNovaInput[]): Float32Array {
  if (inputs.length === 0) throw new PollenError('INVALID_ARGUMENT', 'FedNova needs at least one update');
  const d = inputs[0]!.delta.length;
  const acc = new Float64Array(d);
  let weight = 0;
  let weightedSteps = 0;
  for (const [i, input] of inputs.entries()) {
    assertLength(`inputs[${i}].delta`, input.delta, d);
    assertFinite(`inputs[${i}].delta`, input.delta);
    const w = expectPositive(`inputs[${i}].weight`, input.weight);
    const tau = expectSteps(`inputs[${i}].steps`, input.steps, 'INVALID_ARGUMENT');
    weight += w;
    weightedSteps += w * tau;
    for (let j = 0; j < d; j++) acc[j] = acc[j]! + (w / tau) * input.delta[j]!;
  }
  return fedNovaFromSums(acc, weight, weightedSteps);
}

/**
 * FedNova's aggregate from running sums, as a round or a masked sum carries them:
 * `normalizedSum` = sum_i w_i Delta_i / tau_i, `weight` = sum_i w_i,
 * `weightedSteps` = sum_i w_i tau_i. Returns (weightedSteps / weight) * normalizedSum / weight.
 */
export function fedNovaFromSums(
  normalizedSum: Float32Array | Float64Array,
  weight: number,
  weightedSteps: number,
): Float32Array {
  expectPositive('weight', weight);
  expectPositive('weightedSteps', weightedSteps);
  const factor = weightedSteps / weight / weight;
  const out = new Float32Array(normalizedSum.length);
  for (let j = 0; j < out.length; j++) out[j] = normalizedSum[j]! * factor;
  return out;
}

/** A client's normalized update Delta_i / tau_i, what it masks under secure aggregation. */
export function normalizeBySteps(delta: Float32Array, steps: number): Float32Array {
  const tau = expectSteps('steps', steps, 'INVALID_ARGUMENT');
  return Float32Array.from(delta, (v) => v / tau);
}
