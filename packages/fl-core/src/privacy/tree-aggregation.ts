import { PollenError } from '../errors.ts';
import type { Rng } from '../rng.ts';
import { gaussian } from '../rng.ts';
import { assertFinite, assertLength, expectInt, expectNonNegative } from '../validate.ts';

/**
 * Noisy prefix sums by tree aggregation (Dwork, Naor, Pitassi and Rothblum 2010; Chan, Shi
 * and Song 2011), the noise mechanism of DP-FTRL (Kairouz et al. 2021, Section 3).
 *
 * Round t (1-based) completes the nodes of a binary tree over the rounds whose intervals end
 * at t; each complete node is released once as the sum of its rounds' values plus fresh
 * N(0, sigma^2) noise. The prefix sum after t rounds is read, as the paper's online
 * estimator does, from the nodes of t's binary digits: at most log2(t) + 1 of them, so its
 * noise has variance at most (log2(t) + 1) sigma^2 where adding noise to every round's value
 * would give t sigma^2. Only the noise of those nodes is kept: a node leaves the estimate
 * when its parent completes and never comes back.
 *
 * Not Honaker's estimator (Honaker 2015, "Efficient Use of Differentially Private Binary
 * Trees"), which also weighs the other released nodes and lowers the variance by up to about
 * half: it is post-processing of the same nodes (no privacy difference) but needs every
 * node of the current tree kept, against O(log t) vectors here. The accountant
 * (tree-accountant.ts) charges for exactly the complete nodes released here.
 */

/** A tree's state, to persist with the model version it produced and restore later. */
export interface TreeState {
  /** Rounds added since the tree started (or restarted). */
  readonly steps: number;
  /** The plain sum of the values added (the coordinator's own aggregate, never released). */
  readonly sum: Float32Array;
  /** Noise of the node each set binary digit of `steps` stands for, by level. */
  readonly noise: ReadonlyMap<number, Float32Array>;
}

/** Trailing zero bits of a positive integer: the highest level a round completes. */
function trailingZeros(t: number): number {
  let level = 0;
  while (t % 2 === 0) {
    t /= 2;
    level++;
  }
  return level;
}

/** The online tree-aggregation estimator of prefix sums of vectors of one dimension. */
export class TreeAggregator {
  /** Number of coordinates of every value. */
  readonly dimension: number;
  /** sigma: the standard deviation of each node's noise, per coordinate. */
  readonly noiseStd: number;
  #steps = 0;
  #sum: Float32Array;
  #noise = new Map<number, Float32Array>();

  constructor(dimension: number, noiseStd: number) {
    this.dimension = expectInt('dimension', dimension, 1, 2 ** 31 - 1);
    this.noiseStd = expectNonNegative('noiseStd', noiseStd);
    this.#sum = new Float32Array(this.dimension);
  }

  /** Rounds added since the start or the last restart. */
  get steps(): number {
    return this.#steps;
  }

  /**
   * Add round t's value and return the noisy prefix sum of rounds 1..t: the plain sum plus the
   * noise of the nodes of t's binary digits. Round t completes the nodes of levels 0 to
   * trailingZeros(t); of them only the highest joins the estimate, replacing the lower
   * levels' nodes, which its interval covers. Noise comes from `rng` (a CSPRNG in production).
   */
  add(value: Float32Array, rng: Rng): Float32Array {
    assertLength('value', value, this.dimension);
    assertFinite('value', value);
    const t = this.#steps + 1;
    const level = trailingZeros(t);
    const noise = new Float32Array(this.dimension);
    if (this.noiseStd > 0) for (let i = 0; i < noise.length; i++) noise[i] = this.noiseStd * gaussian(rng);
    const sum = this.#sum.slice();
    for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + value[i]!;
    // Commit only once nothing can throw.
    for (const l of [...this.#noise.keys()]) if (l < level) this.#noise.delete(l);
    this.#noise.set(level, noise);
    this.#sum = sum;
    this.#steps = t;
    return this.prefix();
  }

  /** The noisy prefix sum as it stands (zeros before the first round). */
  prefix(): Float32Array {
    const out = this.#sum.slice();
    // Highest level first, whatever order the nodes came in: a restored tree adds in the same
    // order as the one it was saved from, so both give the same float32 result.
    const levels = [...this.#noise.keys()].sort((a, b) => b - a);
    for (const level of levels) {
      const noise = this.#noise.get(level)!;
      for (let i = 0; i < out.length; i++) out[i] = out[i]! + noise[i]!;
    }
    return out;
  }

  /** Start a new tree: no rounds, no sum, no noise (the accountant charges trees separately). */
  restart(): void {
    this.#steps = 0;
    this.#sum = new Float32Array(this.dimension);
    this.#noise.clear();
  }

  /** A copy of the state. */
  state(): TreeState {
    const noise = new Map<number, Float32Array>();
    for (const [level, v] of this.#noise) noise.set(level, v.slice());
    return { steps: this.#steps, sum: this.#sum.slice(), noise };
  }

  /** Replace the state with one from {@link TreeAggregator.state}; refuses one that does not fit. */
  restore(state: TreeState): void {
    const steps = expectInt('tree.steps', state.steps, 0, Number.MAX_SAFE_INTEGER);
    assertLength('tree.sum', state.sum, this.dimension);
    assertFinite('tree.sum', state.sum);
    const levels = [...state.noise.keys()].sort((a, b) => a - b);
    const expected: number[] = [];
    for (let l = 0; 2 ** l <= steps; l++) if (Math.floor(steps / 2 ** l) % 2 === 1) expected.push(l);
    if (levels.join(',') !== expected.join(',')) {
      throw new PollenError(
        'INVALID_ARGUMENT',
        `"tree.noise" expected levels [${expected.join(', ')}] for ${steps} steps, got [${levels.join(', ')}]`,
      );
    }
    const noise = new Map<number, Float32Array>();
    for (const level of levels) {
      const v = state.noise.get(level)!;
      assertLength(`tree.noise[${level}]`, v, this.dimension);
      assertFinite(`tree.noise[${level}]`, v);
      noise.set(level, v.slice());
    }
    this.#steps = steps;
    this.#sum = state.sum.slice();
    this.#noise = noise;
  }
}
