import { PollenError } from '../errors.ts';
import { expectInRange, expectInt, expectNonNegative, expectObject, expectPositive } from '../validate.ts';
import type { PrivacySpent, RdpConversion } from './accountant.ts';
import { computeRdp, DEFAULT_ORDERS, rdpToEpsilon } from './accountant.ts';

/** Rounds of the Poisson-subsampled Gaussian mechanism that shared one q and one z. */
export interface LedgerEntry {
  readonly samplingRate: number;
  readonly noiseMultiplier: number;
  readonly steps: number;
}

/**
 * A ledger as stored. `rdp` is the running total per order (null for an infinite value,
 * which JSON cannot hold); `entries` is the audit trail it was summed from.
 */
export interface PrivacyLedgerJson {
  readonly version: 1;
  readonly delta: number;
  readonly orders: number[];
  readonly rdp: (number | null)[];
  readonly entries: LedgerEntry[];
}

/** What a new ledger needs: the task's delta, and optionally its own RDP orders. */
export interface PrivacyLedgerOptions {
  readonly delta: number;
  readonly orders?: readonly number[];
}

/**
 * The privacy spent by a task so far, kept as Renyi DP per order and composed by addition
 * (Mironov 2017), so rounds may use different sampling rates and noise multipliers. Epsilon
 * at the task's delta comes from the improved conversion of Balle et al. (2020).
 *
 * The coordinator asks {@link PrivacyLedger.wouldExceed} before it selects a round, calls
 * {@link PrivacyLedger.record} when the round commits, and stores {@link PrivacyLedger.toJSON}
 * with the round record.
 */
export class PrivacyLedger {
  /** The delta epsilon is reported at. */
  readonly delta: number;
  /** The RDP orders tracked. */
  readonly orders: readonly number[];
  #rdp: number[];
  #entries: LedgerEntry[] = [];
  // Per-round RDP by (q, z): a task's q and z rarely change, and each costs milliseconds.
  #perRound = new Map<string, readonly number[]>();

  /** An empty ledger: nothing spent yet. */
  constructor(options: PrivacyLedgerOptions) {
    const delta = options.delta;
    if (typeof delta !== 'number' || !(delta > 0 && delta < 1)) {
      throw new PollenError(
        'INVALID_ARGUMENT',
        `"delta" expected finite number in (0, 1), got ${String(delta)}`,
      );
    }
    this.delta = delta;
    const orders = options.orders ?? DEFAULT_ORDERS;
    // computeRdp validates the orders; zero steps costs nothing.
    this.#rdp = computeRdp({ samplingRate: 0, noiseMultiplier: 1, steps: 0, orders });
    this.orders = Object.freeze([...orders]);
  }

  /** The rounds recorded, consecutive rounds with equal q and z merged into one entry. */
  get entries(): readonly LedgerEntry[] {
    return this.#entries;
  }

  /** Total number of rounds recorded. */
  get steps(): number {
    return this.#entries.reduce((n, e) => n + e.steps, 0);
  }

  /** The total RDP at each order, parallel to {@link PrivacyLedger.orders}. */
  get rdp(): readonly number[] {
    return this.#rdp;
  }

  #roundRdp(samplingRate: number, noiseMultiplier: number): readonly number[] {
    const key = `${samplingRate}:${noiseMultiplier}`;
    let rdp = this.#perRound.get(key);
    if (!rdp) {
      // q follows the population, so a long task may see many values: keep the cache small.
      if (this.#perRound.size >= 16) this.#perRound.clear();
      rdp = computeRdp({ samplingRate, noiseMultiplier, steps: 1, orders: this.orders });
      this.#perRound.set(key, rdp);
    }
    return rdp;
  }

  #totalWith(samplingRate: number, noiseMultiplier: number, steps: number): number[] {
    expectInRange('samplingRate', samplingRate, 0, 1);
    expectNonNegative('noiseMultiplier', noiseMultiplier);
    expectInt('steps', steps, 0, 1e9);
    if (steps === 0 || samplingRate === 0) return [...this.#rdp];
    const round = this.#roundRdp(samplingRate, noiseMultiplier);
    return this.#rdp.map((r, i) => r + steps * round[i]!);
  }

  /** Record `steps` committed rounds run with sampling rate q and noise multiplier z. */
  record(samplingRate: number, noiseMultiplier: number, steps = 1): PrivacySpent {
    this.#rdp = this.#totalWith(samplingRate, noiseMultiplier, steps);
    const last = this.#entries.at(-1);
    if (last && last.samplingRate === samplingRate && last.noiseMultiplier === noiseMultiplier) {
      this.#entries[this.#entries.length - 1] = { ...last, steps: last.steps + steps };
    } else if (steps > 0) {
      this.#entries.push({ samplingRate, noiseMultiplier, steps });
    }
    return this.spent();
  }

  /** The (epsilon, delta) spent so far; epsilon is 0 before any round. */
  spent(conversion: RdpConversion = 'improved'): PrivacySpent {
    return rdpToEpsilon(this.orders, this.#rdp, this.delta, conversion);
  }

  /** The (epsilon, delta) that would be spent after `steps` more rounds with q and z. */
  preview(samplingRate: number, noiseMultiplier: number, steps = 1): PrivacySpent {
    return rdpToEpsilon(this.orders, this.#totalWith(samplingRate, noiseMultiplier, steps), this.delta);
  }

  /** Whether one more round with q and z would take epsilon past `budget`. */
  wouldExceed(budget: number, samplingRate: number, noiseMultiplier: number): boolean {
    expectPositive('budget', budget);
    return this.preview(samplingRate, noiseMultiplier).epsilon > budget;
  }

  /** The ledger as plain JSON, for the coordinator's store; {@link PrivacyLedger.fromJSON} reads it back. */
  toJSON(): PrivacyLedgerJson {
    return {
      version: 1,
      delta: this.delta,
      orders: [...this.orders],
      rdp: this.#rdp.map((r) => (Number.isFinite(r) ? r : null)),
      entries: this.#entries.map((e) => ({ ...e })),
    };
  }

  /**
   * Rebuild a ledger from {@link PrivacyLedger.toJSON} output. The stored RDP totals are
   * taken as they are (recomputing a long history with varying q would cost seconds), after
   * checking shape and range; throws INVALID_ARGUMENT on anything malformed.
   */
  static fromJSON(json: unknown): PrivacyLedger {
    const obj = expectObject('ledger', json);
    if (obj.version !== 1) {
      throw new PollenError('INVALID_ARGUMENT', `"ledger.version" expected 1, got ${String(obj.version)}`);
    }
    if (!Array.isArray(obj.orders) || !Array.isArray(obj.rdp) || !Array.isArray(obj.entries)) {
      throw new PollenError('INVALID_ARGUMENT', '"ledger" expected arrays "orders", "rdp" and "entries"');
    }
    const ledger = new PrivacyLedger({ delta: obj.delta as number, orders: obj.orders as number[] });
    if (obj.rdp.length !== ledger.orders.length) {
      throw new PollenError(
        'INVALID_ARGUMENT',
        `"ledger.rdp" expected ${ledger.orders.length} values, got ${obj.rdp.length}`,
      );
    }
    ledger.#rdp = obj.rdp.map((r, i) =>
      r === null ? Number.POSITIVE_INFINITY : expectNonNegative(`ledger.rdp[${i}]`, r),
    );
    ledger.#entries = obj.entries.map((value, i) => {
      const e = expectObject(`ledger.entries[${i}]`, value);
      return {
        samplingRate: expectInRange(`ledger.entries[${i}].samplingRate`, e.samplingRate, 0, 1),
        noiseMultiplier: expectNonNegative(`ledger.entries[${i}].noiseMultiplier`, e.noiseMultiplier),
        steps: expectInt(`ledger.entries[${i}].steps`, e.steps, 1, 1e9),
      };
    });
    return ledger;
  }
}
