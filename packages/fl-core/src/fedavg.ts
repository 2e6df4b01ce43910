import { accumulateSparse, type SparseVector } from '@pollen/compression';
import { PollenError } from './errors.ts';
import { assertLength, expectPositive } from './validate.ts';

/** One client's contribution: its vector and its weight (usually its example count). */
export interface WeightedVector {
  readonly vector: Float32Array;
  readonly weight: number;
}

/**
 * Weighted average of vectors, FedAvg's aggregation step (McMahan et al. 2017,
 * "Communication-Efficient Learning of Deep Networks from Decentralized Data"):
 * sum_k (n_k / n) * v_k. Accumulates in float64 so the order of arrival does not change
 * the result beyond float32 rounding.
 */
export function weightedAverage(inputs: readonly WeightedVector[]): Float32Array {
  const first = inputs[0];
  if (!first) throw new PollenError('INVALID_ARGUMENT', '"inputs" expected at least one vector, got 0');
  const d = first.vector.length;
  const acc = new Float64Array(d);
  let total = 0;
  for (const { vector, weight } of inputs) {
    assertLength('vector', vector, d);
    expectPositive('weight', weight);
    total += weight;
    for (let i = 0; i < d; i++) acc[i] = acc[i]! + weight * vector[i]!;
  }
  const out = new Float32Array(d);
  for (let i = 0; i < d; i++) out[i] = acc[i]! / total;
  return out;
}

/**
 * A running weighted sum, so the coordinator folds each update in as it arrives and keeps
 * O(d) memory however many clients report.
 */
/** A weighted running sum as one server holds it: the sum, the total weight and how many vectors. */
export interface PartialSum {
  readonly sum: Float64Array;
  readonly weight: number;
  readonly count: number;
}

export class WeightedAccumulator {
  readonly dimension: number;
  private readonly sum: Float64Array;
  private totalWeight = 0;
  private contributions = 0;

  constructor(dimension: number) {
    this.dimension = dimension;
    this.sum = new Float64Array(dimension);
  }

  /** Fold in one vector with its weight. */
  add(vector: Float32Array, weight: number): void {
    assertLength('vector', vector, this.dimension);
    expectPositive('weight', weight);
    const sum = this.sum;
    // Four coordinates a step: the loop's own bookkeeping is a quarter of it (the fold is the
    // coordinator's hottest loop; docs/design.md, "A round").
    const n = sum.length;
    const end = n - (n % 4);
    for (let i = 0; i < end; i += 4) {
      sum[i] = sum[i]! + weight * vector[i]!;
      sum[i + 1] = sum[i + 1]! + weight * vector[i + 1]!;
      sum[i + 2] = sum[i + 2]! + weight * vector[i + 2]!;
      sum[i + 3] = sum[i + 3]! + weight * vector[i + 3]!;
    }
    for (let i = end; i < n; i++) sum[i] = sum[i]! + weight * vector[i]!;
    this.totalWeight += weight;
    this.contributions++;
  }

  /**
   * Fold in a sparse vector in O(k): the coordinates it does not carry count as zeros, so the
   * mean is the one of the dense equivalents. Checked (dimension, index range) before anything
   * is added.
   */
  addSparse(vector: SparseVector, weight: number): void {
    expectPositive('weight', weight);
    accumulateSparse(this.sum, vector, weight);
    this.totalWeight += weight;
    this.contributions++;
  }

  /** Number of vectors folded in so far. */
  get count(): number {
    return this.contributions;
  }

  /** Sum of the weights folded in so far. */
  get weight(): number {
    return this.totalWeight;
  }

  /**
   * The running sum as it stands (a copy), for another accumulator to `merge`: the partial
   * sums of several servers add up to the sum over all their clients.
   */
  partial(): PartialSum {
    return { sum: Float64Array.from(this.sum), weight: this.totalWeight, count: this.contributions };
  }

  /** Fold in another accumulator's partial sum, as if its vectors had been added here. */
  merge(partial: PartialSum): void {
    if (partial.sum.length !== this.dimension) {
      throw new PollenError(
        'SHAPE_MISMATCH',
        `"partial.sum" expected ${this.dimension} values, got ${partial.sum.length}`,
      );
    }
    if (
      !Number.isFinite(partial.weight) ||
      partial.weight < 0 ||
      !Number.isInteger(partial.count) ||
      partial.count < 0
    ) {
      throw new PollenError(
        'INVALID_ARGUMENT',
        `"partial" expected a non-negative weight and count, got ${partial.weight}, ${partial.count}`,
      );
    }
    const sum = this.sum;
    for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + partial.sum[i]!;
    this.totalWeight += partial.weight;
    this.contributions += partial.count;
  }

  /** The weighted mean of everything folded in. */
  mean(): Float32Array {
    if (this.contributions === 0) throw new PollenError('INVALID_ARGUMENT', 'no vectors were accumulated');
    const out = new Float32Array(this.dimension);
    for (let i = 0; i < out.length; i++) out[i] = this.sum[i]! / this.totalWeight;
    return out;
  }
}
