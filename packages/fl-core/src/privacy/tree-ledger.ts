import { PollenError } from '../errors.ts';
import { expectInt, expectObject, expectPositive } from '../validate.ts';
import type { PrivacySpent } from './accountant.ts';
import { treeEpsilon } from './tree-accountant.ts';

/**
 * The privacy ledger of a DP-FTRL task: the rounds committed (their trees follow from the
 * restart rule) and, for the participation rule, the last round each recent client took part
 * in. Epsilon comes from the tree accountant (tree-accountant.ts) at the task's delta; the
 * coordinator asks {@link TreeLedger.wouldExceed} before a round, {@link TreeLedger.eligible}
 * for each candidate, and {@link TreeLedger.record} when the round commits.
 */

/** What fixes a DP-FTRL task's accounting; a ledger kept under other values is refused. */
export interface TreeLedgerParams {
  readonly delta: number;
  /** z: each tree node's noise std over C. */
  readonly noiseMultiplier: number;
  /** b: a client takes part at most once in any b consecutive rounds. */
  readonly minSeparation: number;
  /** Rounds per tree; 0: one tree. */
  readonly restartEvery: number;
}

/** A tree ledger as stored. */
export interface TreeLedgerJson extends TreeLedgerParams {
  readonly version: 1;
  readonly kind: 'tree';
  /** Rounds committed, over all trees. */
  readonly rounds: number;
  /** Last round (1-based) of each client that took part in one of the last b - 1 rounds. */
  readonly recent: Readonly<Record<string, number>>;
}

/** Tree lengths of `rounds` rounds under the restart rule: full trees, then the current one. */
export function treeSegments(rounds: number, restartEvery: number): number[] {
  if (rounds === 0) return [];
  if (restartEvery === 0) return [rounds];
  const full = Math.floor(rounds / restartEvery);
  const rest = rounds - full * restartEvery;
  return [...Array.from({ length: full }, () => restartEvery), ...(rest > 0 ? [rest] : [])];
}

/** The spend of a DP-FTRL task and who may take part next. */
export class TreeLedger {
  readonly params: TreeLedgerParams;
  #rounds = 0;
  #recent = new Map<string, number>();

  constructor(params: TreeLedgerParams) {
    if (typeof params.delta !== 'number' || !(params.delta > 0 && params.delta < 1)) {
      throw new PollenError(
        'INVALID_ARGUMENT',
        `"delta" expected finite number in (0, 1), got ${params.delta}`,
      );
    }
    this.params = {
      delta: params.delta,
      noiseMultiplier: expectPositive('noiseMultiplier', params.noiseMultiplier),
      minSeparation: expectInt('minSeparation', params.minSeparation, 1, 1_000_000),
      restartEvery: expectInt('restartEvery', params.restartEvery, 0, 1_000_000),
    };
  }

  /** Rounds committed. */
  get rounds(): number {
    return this.#rounds;
  }

  /** The tree lengths so far. */
  get segments(): number[] {
    return treeSegments(this.#rounds, this.params.restartEvery);
  }

  #spentAfter(rounds: number): PrivacySpent & { readonly rho: number } {
    const { noiseMultiplier, minSeparation, restartEvery, delta } = this.params;
    return treeEpsilon({
      noiseMultiplier,
      minSeparation,
      segments: treeSegments(rounds, restartEvery),
      delta,
    });
  }

  /** (epsilon, delta) and rho-zCDP spent so far. */
  spent(): PrivacySpent & { readonly rho: number } {
    return this.#spentAfter(this.#rounds);
  }

  /** What `rounds` more rounds would bring the spend to. */
  preview(rounds = 1): PrivacySpent & { readonly rho: number } {
    return this.#spentAfter(this.#rounds + expectInt('rounds', rounds, 0, 1_000_000));
  }

  /** Whether one more round would take epsilon past `budget`. */
  wouldExceed(budget: number): boolean {
    expectPositive('budget', budget);
    return this.preview().epsilon > budget;
  }

  /**
   * Whether `clientId` may take part in the next round: never before, or its last round is at
   * least b rounds before the next one (Kairouz et al. 2021's minimum separation).
   */
  eligible(clientId: string): boolean {
    const last = this.#recent.get(clientId);
    return last === undefined || this.#rounds + 1 - last >= this.params.minSeparation;
  }

  /**
   * Record a committed round and the clients that took part in it. Clients whose last round
   * can no longer bind (b or more rounds ago) are forgotten, so the record stays at about
   * b times the cohort size.
   */
  record(clientIds: Iterable<string>): PrivacySpent & { readonly rho: number } {
    this.#rounds++;
    for (const id of clientIds) this.#recent.set(id, this.#rounds);
    for (const [id, last] of this.#recent) {
      if (this.#rounds + 1 - last >= this.params.minSeparation) this.#recent.delete(id);
    }
    return this.spent();
  }

  toJSON(): TreeLedgerJson {
    return {
      version: 1,
      kind: 'tree',
      ...this.params,
      rounds: this.#rounds,
      recent: Object.fromEntries(this.#recent),
    };
  }

  /** Read a ledger from {@link TreeLedger.toJSON}; throws INVALID_ARGUMENT on anything malformed. */
  static fromJSON(json: unknown): TreeLedger {
    const obj = expectObject('ledger', json);
    if (obj.version !== 1 || obj.kind !== 'tree') {
      throw new PollenError('INVALID_ARGUMENT', '"ledger" expected version 1 of kind "tree"');
    }
    const ledger = new TreeLedger(obj as unknown as TreeLedgerParams);
    ledger.#rounds = expectInt('ledger.rounds', obj.rounds, 0, Number.MAX_SAFE_INTEGER);
    const recent = expectObject('ledger.recent', obj.recent);
    for (const [id, last] of Object.entries(recent)) {
      ledger.#recent.set(id, expectInt(`ledger.recent.${id}`, last, 1, ledger.#rounds));
    }
    return ledger;
  }
}
