import { expectInt, expectNonNegative } from '../validate.ts';

/** How late updates are down-weighted: s(tau) = (1 + tau)^-exponent, 0 past maxStaleness. */
export interface StalenessConfig {
  /** a >= 0 in s(tau) = (1 + tau)^-a; 0 weighs every accepted update fully. */
  readonly exponent: number;
  /** tau_max: an update more than this many versions behind gets weight 0 (dropped). */
  readonly maxStaleness: number;
}

/** a = 1/2 as in FedBuff (Nguyen et al. 2022); tau_max = 10 versions. */
export const DEFAULT_STALENESS: StalenessConfig = { exponent: 0.5, maxStaleness: 10 };

/**
 * The weight of an update (or a whole aggregate) computed against model version v and applied
 * at version v + tau: the polynomial staleness function s(tau) = (1 + tau)^-a of Xie, Koyejo
 * and Gupta 2019 ("Asynchronous Federated Optimization"), with a = 1/2 by default as in FedBuff
 * (Nguyen et al. 2022, "Federated Learning with Buffered Asynchronous Aggregation"), and 0 past
 * tau_max. s(0) = 1. The coordinator multiplies an update's example weight by it.
 */
export function stalenessWeight(tau: number, config: StalenessConfig = DEFAULT_STALENESS): number {
  expectInt('tau', tau, 0, Number.MAX_SAFE_INTEGER);
  const a = expectNonNegative('exponent', config.exponent);
  const max = expectInt('maxStaleness', config.maxStaleness, 0, Number.MAX_SAFE_INTEGER);
  if (tau > max) return 0;
  return (1 + tau) ** -a;
}
