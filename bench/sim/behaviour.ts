import { RECONNECT_GRACE_MS } from '@pollen/coordinator';
import { gaussian, hashSeed, type Rng, seededRng } from '@pollen/fl-core';
import type { DropoutMode, SimOptions } from './options.ts';

/**
 * A client that vanished stays away longer than the coordinator's reconnect grace period, so
 * the coordinator drops it from its round. A page reopened sooner is resumed into a round it
 * no longer knows about and holds that round to its deadline (see bench/README.md).
 */
export const AWAY_MIN_MS = RECONNECT_GRACE_MS + 1000;
export const AWAY_MAX_MS = RECONNECT_GRACE_MS + 5000;

/** z of the 95th percentile of the standard normal. */
const Z95 = 1.6448536269514722;

/** What one selected client does with one round. */
export interface RoundPlan {
  /** Drop out of this round, and how; null to report. */
  readonly dropout: DropoutMode | null;
  /** Milliseconds added before the upload, or before leaving, for a drop-out (0 to 1 s). */
  readonly delayMs: number;
}

/**
 * The simulated population's misbehaviour, reproducible from the seed: which selected
 * clients drop out, how long uploads lag, which clients churn after a round. Each client
 * and round draws from its own stream, so the plan of one does not depend on the timing of
 * another.
 */
export class Behaviour {
  private readonly churnRng: Rng;
  /** Counters of what was injected, for the report. */
  readonly injected = { dropouts: 0, delayedUploads: 0, delayMsTotal: 0 };

  constructor(private readonly options: SimOptions) {
    this.churnRng = seededRng(hashSeed(`churn:${options.seed}`));
  }

  private readonly plans = new Map<string, RoundPlan>();

  /** The plan of `clientId` for `roundId`: drawn once, the same answer when asked again. */
  planRound(clientId: string, roundId: number): RoundPlan {
    const key = `${clientId}:${roundId}`;
    let plan = this.plans.get(key);
    if (!plan) {
      plan = this.draw(clientId, roundId);
      this.plans.set(key, plan);
    }
    return plan;
  }

  private draw(clientId: string, roundId: number): RoundPlan {
    const rng = seededRng(hashSeed(`${this.options.seed}:${clientId}:${roundId}`));
    if (this.options.dropout > 0 && rng() < this.options.dropout) {
      this.injected.dropouts++;
      // Gone some time into the round, not at once.
      return { dropout: this.options.dropoutMode, delayMs: 1000 * rng() };
    }
    return { dropout: null, delayMs: this.sampleDelay(rng) };
  }

  /** A long-tailed upload delay: log-normal with the configured median and 95th percentile. */
  sampleDelay(rng: Rng): number {
    const latency = this.options.latency;
    if (!latency) return 0;
    const sigma = Math.log(latency.p95Ms / latency.medianMs) / Z95;
    const delay = latency.medianMs * Math.exp(sigma * gaussian(rng));
    this.injected.delayedUploads++;
    this.injected.delayMsTotal += delay;
    return delay;
  }

  /** After a round: does this client leave, and for how long? */
  churnAfterRound(): number | null {
    if (this.options.churn <= 0 || this.churnRng() >= this.options.churn) return null;
    return this.awayMs();
  }

  /** How long a client that left stays away: past the coordinator's grace period, by 1 to 5 s. */
  awayMs(): number {
    return AWAY_MIN_MS + (AWAY_MAX_MS - AWAY_MIN_MS) * this.churnRng();
  }
}
