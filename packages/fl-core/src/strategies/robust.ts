import type { WeightedVector } from '../fedavg.ts';
import { weightedAverage } from '../fedavg.ts';
import { krumMinUpdates, multiKrum } from './krum.ts';
import { coordinateMedian } from './median.ts';
import { normBoundedMean } from './norm-bound.ts';
import { trimmedMean } from './trimmed-mean.ts';

/** The aggregation rules a task can pick; all but 'none' need every individual update. */
export type RobustKind = 'none' | 'median' | 'trimmed-mean' | 'krum' | 'multi-krum' | 'norm-bound';

/** Every aggregation rule name. */
export const ROBUST_KINDS: readonly RobustKind[] = [
  'none',
  'median',
  'trimmed-mean',
  'krum',
  'multi-krum',
  'norm-bound',
];

/** How a round's client deltas are combined before the server optimizer sees them. */
export type RobustConfig =
  | { readonly kind: 'none' }
  | { readonly kind: 'median' }
  | { readonly kind: 'trimmed-mean'; readonly beta: number }
  | { readonly kind: 'krum'; readonly f: number }
  | { readonly kind: 'multi-krum'; readonly f: number; readonly m?: number }
  | { readonly kind: 'norm-bound'; readonly bound: number };

/** A round's aggregated delta, and for Krum which clients were kept (indices into the input). */
export interface RobustAggregate {
  readonly delta: Float32Array;
  readonly selected?: readonly number[];
}

/** Fewest individual updates the rule can aggregate: 2f + 3 for Krum and Multi-Krum, else 1. */
export function robustMinUpdates(config: RobustConfig): number {
  return config.kind === 'krum' || config.kind === 'multi-krum' ? krumMinUpdates(config.f) : 1;
}

/**
 * Aggregate a round's individual client deltas with the configured rule: 'none' is FedAvg's
 * example-weighted mean (McMahan et al. 2017), 'norm-bound' the weighted mean of clipped
 * deltas (Sun et al. 2019); median, trimmed mean (Yin et al. 2018) and Krum / Multi-Krum
 * (Blanchard et al. 2017) ignore the weights, since a Byzantine client can inflate its own.
 * Needs each update in the clear, hence never under secure aggregation.
 */
export function robustAggregate(config: RobustConfig, updates: readonly WeightedVector[]): RobustAggregate {
  const vectors = (): Float32Array[] => updates.map((u) => u.vector);
  switch (config.kind) {
    case 'none':
      return { delta: weightedAverage(updates) };
    case 'median':
      return { delta: coordinateMedian(vectors()) };
    case 'trimmed-mean':
      return { delta: trimmedMean(vectors(), config.beta) };
    case 'krum': {
      const { vector, selected } = multiKrum(vectors(), config.f, 1);
      return { delta: vector, selected };
    }
    case 'multi-krum': {
      const { vector, selected } = multiKrum(vectors(), config.f, config.m);
      return { delta: vector, selected };
    }
    case 'norm-bound':
      return { delta: normBoundedMean(updates, config.bound) };
  }
}
