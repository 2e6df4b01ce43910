import { PollenError } from '@pollen/fl-core';
import type { CloseReason, RoundHandle, Submission } from '../rounds/handle.ts';
import { refusePlainUpdate } from '../rounds/intake.ts';
import type { PrivacyPlan } from '../rounds/privacy.ts';
import { buildRecord, Tally } from '../rounds/record.ts';
import type { SecAggEvent } from '../rounds/secagg-messages.ts';
import type { RoundRecord } from '../store/types.ts';

/** What a relay passes on to the lease holder: a client's stage message, or its departure. */
export type RelayForward =
  | {
      readonly kind: 'message';
      readonly clientId: string;
      readonly event: SecAggEvent;
      readonly body: object;
    }
  | { readonly kind: 'drop'; readonly clientId: string };

/**
 * A follower's share of a securely aggregated round. SecAgg+ routes every stage through one
 * server (the key advertisements, the encrypted shares, the masked inputs, the reveals), so
 * a node other than the lease holder keeps no state of the protocol: it checks that a message
 * comes from one of its own selected clients while the round is open, and forwards it to the
 * holder, whose SecAggRound validates it and answers the client through the adapter. The
 * masked inputs are summed by the holder, mod 2^32 as one server would; the holder never sees
 * more than it would have seen alone.
 */
export class SecAggRelay implements RoundHandle {
  readonly kind = 'relay' as const;
  readonly startedAt = Date.now();
  readonly closed: Promise<CloseReason>;
  private readonly selected: Set<string>;
  private readonly left = new Set<string>();
  private closeReason: CloseReason | null = null;
  private resolveClosed!: (reason: CloseReason) => void;
  private readonly timer: NodeJS.Timeout;
  private readonly tally = new Tally();

  constructor(
    readonly taskId: string,
    readonly roundId: number,
    readonly baseVersion: number,
    readonly privacy: PrivacyPlan | null,
    selected: readonly string[],
    deadlineMs: number,
    private readonly forward: (message: RelayForward) => void,
  ) {
    this.selected = new Set(selected);
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.timer = setTimeout(() => this.close('deadline'), deadlineMs);
    this.timer.unref();
  }

  get isOpen(): boolean {
    return this.closeReason === null;
  }

  checkMembership(clientId: string): void {
    if (!this.selected.has(clientId))
      throw new PollenError('NOT_IN_ROUND', `client is not in round ${this.roundId}`);
    if (!this.isOpen) throw new PollenError('ROUND_CLOSED', `round ${this.roundId} is closed`);
    if (this.left.has(clientId)) throw new PollenError('ROUND_CLOSED', `client left round ${this.roundId}`);
  }

  /** As in SecAggRound: a plain update has no place in a secure round. */
  intake(submission: Submission): void {
    refusePlainUpdate(this, submission);
  }

  noteRejected(): void {
    this.tally.rejected++;
  }

  /** A stage message from one of this node's selected clients, its envelope checked: to the holder. */
  receive(event: SecAggEvent, clientId: string, body: Record<string, unknown>): void {
    this.checkMembership(clientId);
    this.forward({ kind: 'message', clientId, event, body });
  }

  drop(clientId: string): void {
    if (!this.isOpen || !this.selected.has(clientId) || this.left.has(clientId)) return;
    this.left.add(clientId);
    this.forward({ kind: 'drop', clientId });
  }

  close(reason: CloseReason): void {
    if (this.closeReason !== null) return;
    this.closeReason = reason;
    clearTimeout(this.timer);
    this.resolveClosed(reason);
  }

  /**
   * What this node saw of the round: its selected clients and what it refused. The holder's
   * record is the round's; this one is for logs.
   */
  record(fields: Partial<RoundRecord> = {}): RoundRecord {
    return buildRecord(
      {
        taskId: this.taskId,
        roundId: this.roundId,
        baseVersion: this.baseVersion,
        startedAt: this.startedAt,
        selected: this.selected.size,
        reported: 0,
        deadlineHit: this.closeReason === 'deadline',
        reason: null,
        privacy: this.privacy,
        tally: this.tally,
      },
      fields,
    );
  }
}
