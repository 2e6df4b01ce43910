import type { RoundSecAgg } from '@pollen/fl-core';
import type { RoundRecord } from '../store/types.ts';
import type { SharePlan } from './cluster-port.ts';
import type { ParsedUpdate } from './messages.ts';
import type { PrivacyPlan } from './privacy.ts';
import type { RoundAggregate, RoundPartial } from './round.ts';
import type { SecAggEvent } from './secagg-messages.ts';

/**
 * The kinds of round (docs/design.md, "Rounds in the coordinator"): a synchronous round
 * (`Round`), a securely aggregated one (`SecAggRound`), a cluster follower's relay of a secure
 * round the lease holder runs (cluster/secagg-relay.ts), and one client's hand-out of the model
 * in buffered mode (`Handout`). A kind is for records and logs; nothing branches on it.
 */
export type RoundKind = 'sync' | 'secure' | 'relay' | 'handout';

export type CloseReason = 'all-accounted' | 'target-reached' | 'deadline' | 'stopped';

/** A parsed update from a client, on its way into a round (intake.ts). */
export interface Submission {
  readonly clientId: string;
  readonly update: ParsedUpdate;
  /** The task's bound on an update's L2 norm (`maxUpdateNorm`); a round that clips uses its own. */
  readonly maxNorm: number;
}

/**
 * What every kind of round offers the contributor gateway, the runners and the cluster: who is
 * in it, the one intake pipeline an update goes through (intake.ts), the stage messages of
 * secure aggregation, a client leaving, closing, and its record. A kind that takes no plain
 * updates (a secure round) or no stage messages (a plain one) refuses them with a code.
 */
export interface RoundHandle {
  readonly kind: RoundKind;
  readonly taskId: string;
  readonly roundId: number;
  /** The model version the round's clients train: an update built on another is STALE_MODEL. */
  readonly baseVersion: number;
  /** The clipping and noise the clients were told to apply; null when the task does not clip. */
  readonly privacy: PrivacyPlan | null;
  readonly isOpen: boolean;
  /** Throw the error a message from this client for this round deserves, if any. */
  checkMembership(clientId: string): void;
  /** Take an update in: membership, version, decode, norm, fold, each once (intake.ts). */
  intake(submission: Submission): void;
  /** A secure aggregation stage message, its envelope checked (secagg-messages.ts). */
  receive(event: SecAggEvent, clientId: string, body: Record<string, unknown>): void;
  /** A client left the round (withdrew, vanished past its grace, became ineligible). */
  drop(clientId: string): void;
  close(reason: CloseReason): void;
  /** The round's record as it stands, with `fields` set (record.ts). */
  record(fields?: Partial<RoundRecord>): RoundRecord;
}

/**
 * A round a runner drives from selection to its commit: a synchronous round or a secure one.
 * The runner asks it for what it adds to each client's start message, for its aggregate, and in
 * a cluster for what the other nodes need to run their share (cluster-port.ts).
 */
export interface DrivenRound extends RoundHandle {
  readonly kind: 'sync' | 'secure';
  readonly closed: Promise<CloseReason>;
  readonly deadline: number;
  readonly target: number;
  readonly dimension: number;
  readonly reportedCount: number;
  /** Adaptive clipping: how many accepted reports said their norm was at or below C. */
  readonly clipBitSum: number;
  /** Why the round failed inside (a secure round's abort); null when it did not. */
  readonly failure: string | null;
  /** How the cohort was drawn, kept in every record of the round. */
  sampling: Pick<RoundRecord, 'eligible' | 'sampling'>;
  /** What this client's round:start carries besides the common message (its SecAgg block). */
  startFor(clientId: string): { readonly secagg?: RoundSecAgg };
  /**
   * A client back within its reconnect grace: `sendStart` sends it the round's start again,
   * unless the round has its own way to catch it up (a secure round resends its stage message).
   */
  resume(clientId: string, sendStart: () => void): void;
  /** What the other nodes of a cluster need to run their share of the round with their clients. */
  share(remote: readonly string[]): SharePlan;
  /** Fold in another node's partial of the round (a plain round; a secure one refuses). */
  absorb(partial: RoundPartial): void;
  /** Combine what was taken in; throws when there is nothing to release. */
  aggregate(): RoundAggregate;
}
