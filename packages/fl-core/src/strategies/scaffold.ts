import { assertLength, expectInRange, expectInt, expectPositive } from '../validate.ts';

// SCAFFOLD (Karimireddy, Kale, Mohri, Reddi, Stich and Suresh 2020, "SCAFFOLD: Stochastic
// Controlled Averaging for Federated Learning", ICML), Algorithm 1. The server keeps a control
// variate c, each client its own c_i (kept across rounds, in IndexedDB in the browser). A
// client's local step becomes y <- y - eta_l * (g_i(y) + c - c_i), which cancels client drift.

/**
 * The correction c - c_i a client adds to every local gradient before its SGD step
 *. Computed once per round: c and c_i do not change during it.
 */
export function scaffoldCorrection(c: Float32Array, ci: Float32Array): Float32Array {
  assertLength('ci', ci, c.length);
  const out = new Float32Array(c.length);
  for (let i = 0; i < c.length; i++) out[i] = c[i]! - ci[i]!;
  return out;
}

/** What a client knows at the end of its local training under SCAFFOLD. */
export interface ScaffoldClientInput {
  /** Server control variate c received with the round. */
  readonly c: Float32Array;
  /** The client's own control variate c_i before this round (zeros on its first round). */
  readonly ci: Float32Array;
  /** Global model x received with the round. */
  readonly x: Float32Array;
  /** Local model y_i after the K corrected steps. */
  readonly y: Float32Array;
  /** K, the number of local SGD steps taken (mini-batches, over all epochs). */
  readonly steps: number;
  /** eta_l, the local SGD learning rate. */
  readonly lr: number;
}

/** A client's SCAFFOLD result: the c_i to keep and the two deltas to send. */
export interface ScaffoldClientUpdate {
  /** c_i+, to persist on the device for the client's next round. */
  readonly ci: Float32Array;
  /** Delta y_i = y_i - x, the model delta (the usual FedAvg update). */
  readonly deltaY: Float32Array;
  /** Delta c_i = c_i+ - c_i, sent next to Delta y_i. */
  readonly deltaC: Float32Array;
}

/**
 * The client's control-variate update, option II of Algorithm 1:
 * c_i+ = c_i - c + (x - y_i) / (K * eta_l), reusing the local steps instead of an extra pass
 * over the data (option I). Exact only for plain local SGD with a constant learning rate.
 */
export function scaffoldClientUpdate(input: ScaffoldClientInput): ScaffoldClientUpdate {
  const { c, ci, x, y } = input;
  const d = x.length;
  assertLength('c', c, d);
  assertLength('ci', ci, d);
  assertLength('y', y, d);
  const steps = expectInt('steps', input.steps, 1, Number.MAX_SAFE_INTEGER);
  const lr = expectPositive('lr', input.lr);
  const inv = 1 / (steps * lr);
  const nextCi = new Float32Array(d);
  const deltaY = new Float32Array(d);
  const deltaC = new Float32Array(d);
  for (let i = 0; i < d; i++) {
    // Delta c_i computed directly (not as c_i+ - c_i) so it carries no extra float32 rounding.
    const dc = (x[i]! - y[i]!) * inv - c[i]!;
    deltaC[i] = dc;
    nextCi[i] = ci[i]! + dc;
    deltaY[i] = y[i]! - x[i]!;
  }
  return { ci: nextCi, deltaY, deltaC };
}

/**
 * The server's control-variate update (Algorithm 1): c <- c + (|S| / N) * mean Delta c_i,
 * i.e. c + (1/N) * sum over the reporting clients. `fraction` is |S| / N in (0, 1]: the reporting
 * clients over the task's whole population. Returns a new vector.
 */
export function scaffoldServerControl(
  c: Float32Array,
  meanDeltaC: Float32Array,
  fraction: number,
): Float32Array {
  assertLength('meanDeltaC', meanDeltaC, c.length);
  expectPositive('fraction', fraction);
  const q = expectInRange('fraction', fraction, 0, 1);
  const out = new Float32Array(c.length);
  for (let i = 0; i < c.length; i++) out[i] = c[i]! + q * meanDeltaC[i]!;
  return out;
}

/** The server's inputs for one SCAFFOLD round. */
export interface ScaffoldServerInput {
  /** Global model x. */
  readonly x: Float32Array;
  /** Server control variate c. */
  readonly c: Float32Array;
  /** Mean over the reporting clients of Delta y_i. */
  readonly meanDeltaY: Float32Array;
  /** Mean over the reporting clients of Delta c_i. */
  readonly meanDeltaC: Float32Array;
  /** Global step size eta_g (1 in most of the paper's experiments). */
  readonly globalLr: number;
  /** |S| / N: reporting clients over the population, in (0, 1]. */
  readonly fraction: number;
}

/** The server's SCAFFOLD state after a round: the new global model and control variate. */
export interface ScaffoldServerState {
  readonly x: Float32Array;
  readonly c: Float32Array;
}

/**
 * The server's SCAFFOLD step (Algorithm 1): x <- x + eta_g * mean Delta y_i and
 * c <- c + (|S| / N) * mean Delta c_i. The x half is FedAvg's server step with lr eta_g; to pair
 * the control variates with another server optimizer, use a `Strategy` for x and
 * `scaffoldServerControl` for c.
 */
export function scaffoldServerUpdate(input: ScaffoldServerInput): ScaffoldServerState {
  const { x, meanDeltaY } = input;
  assertLength('meanDeltaY', meanDeltaY, x.length);
  assertLength('c', input.c, x.length);
  const lr = expectPositive('globalLr', input.globalLr);
  const nextX = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) nextX[i] = x[i]! + lr * meanDeltaY[i]!;
  return { x: nextX, c: scaffoldServerControl(input.c, input.meanDeltaC, input.fraction) };
}
