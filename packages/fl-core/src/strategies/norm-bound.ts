import type { WeightedVector } from '../fedavg.ts';
import { weightedAverage } from '../fedavg.ts';
import { expectPositive } from '../validate.ts';
import { l2norm, scale } from '../vector.ts';
import { checkUpdates } from './updates.ts';

/**
 * An update scaled down to L2 norm `bound` when it is longer, else a copy: u * min(1, bound / ||u||).
 */
export function boundUpdateNorm(update: Float32Array, bound: number): Float32Array {
  expectPositive('bound', bound);
  const norm = l2norm(update);
  return norm > bound ? scale(bound / norm, update) : update.slice();
}

/**
 * Norm bounding (Sun, Kairouz, Suresh and McMahan 2019, "Can You Really Backdoor Federated
 * Learning?"): clip every update to L2 norm `bound`, then take the example-weighted mean. It
 * caps how far any one client can move the model (boosted backdoor or scaled updates) while
 * keeping FedAvg's weighting; it does not bound a client that lies about its example count,
 * so the coordinator should cap weights too.
 */
export function normBoundedMean(updates: readonly WeightedVector[], bound: number): Float32Array {
  expectPositive('bound', bound);
  checkUpdates(updates.map((u) => u.vector));
  return weightedAverage(
    updates.map((u) => ({ vector: boundUpdateNorm(u.vector, bound), weight: u.weight })),
  );
}
