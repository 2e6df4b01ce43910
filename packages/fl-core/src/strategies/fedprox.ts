import type { PollenErrorCode } from '../errors.ts';
import { assertLength, expectNonNegative } from '../validate.ts';

// FedProx (Li et al. 2020, "Federated Optimization in Heterogeneous Networks", MLSys): each
// client minimises F_k(w) + mu/2 * ||w - w_global||^2, which keeps local models near the
// global one on heterogeneous data. The term lives in the browser's training loop; the server
// step is unchanged. These are the pure pieces the trainer needs.

/**
 * Check FedProx's mu: a finite number >= 0 (0 turns FedProx into FedAvg). `name` is the field
 * path used in the error message.
 */
export function validateProximalMu(mu: unknown, name = 'mu', code: PollenErrorCode = 'INVALID_TASK'): number {
  return expectNonNegative(name, mu, code);
}

/** The proximal term's value mu/2 * ||w - wGlobal||^2, for the loss the trainer reports. */
export function proximalTerm(w: Float32Array, wGlobal: Float32Array, mu: number): number {
  assertLength('wGlobal', wGlobal, w.length);
  let s = 0;
  for (let i = 0; i < w.length; i++) {
    const d = w[i]! - wGlobal[i]!;
    s += d * d;
  }
  return (mu / 2) * s;
}

/** The proximal term's gradient mu * (w - wGlobal), as a new vector (Li et al. 2020). */
export function proximalGradient(w: Float32Array, wGlobal: Float32Array, mu: number): Float32Array {
  assertLength('wGlobal', wGlobal, w.length);
  const out = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) out[i] = mu * (w[i]! - wGlobal[i]!);
  return out;
}

/**
 * grad += mu * (w - wGlobal), in place, for the trainer's inner loop where a fresh vector per
 * mini-batch would be garbage; returns grad.
 */
export function addProximalGradient(
  grad: Float32Array,
  w: Float32Array,
  wGlobal: Float32Array,
  mu: number,
): Float32Array {
  assertLength('w', w, grad.length);
  assertLength('wGlobal', wGlobal, grad.length);
  for (let i = 0; i < grad.length; i++) grad[i] = grad[i]! + mu * (w[i]! - wGlobal[i]!);
  return grad;
}
