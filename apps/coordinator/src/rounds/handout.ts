import { asksHeldOutReport, PollenError } from '@pollen/fl-core';
import type { RoundRecord } from '../store/types.ts';
import type { CloseReason, RoundHandle, Submission } from './handle.ts';
import { intake, refuseStageMessage } from './intake.ts';
import type { PrivacyPlan } from './privacy.ts';
import type { AcceptedUpdate } from './round.ts';
import type { RoundStart } from './start-message.ts';

/** Why a hand-out ended without an update. */
export type TakeBack = 'deadline' | 'left' | 'stopped' | 'stale';

/** What a hand-out asks of the buffered runner that made it (buffered-runner.ts). */
export interface HandoutHost {
  /** Whether the client still holds this hand-out. */
  holds(handout: Handout): boolean;
  /** Refuse an update that arrives with no buffer open or too stale; undefined: it may proceed. */
  refusal(handout: Handout): PollenError | undefined;
  /** Fold a checked update into the open buffer. */
  accept(handout: Handout, update: AcceptedUpdate): void;
  noteRejected(): void;
  /** The hand-out ends without an update: the client is free again. */
  takeBack(handout: Handout, why: TakeBack): void;
  /** The record of the buffer this hand-out belongs to. */
  record(handout: Handout, fields: Partial<RoundRecord>): RoundRecord;
}

/**
 * One client's hand-out of the model in buffered mode (docs/design.md, "Rounds in the
 * coordinator"): a round of one, as the gateway sees it. Its intake is a plain round's (membership, version, decode,
 * norm), dense frames only, and the fold goes to the open buffer, whatever version the client
 * trained (FedBuff: staleness is weighed when the buffer is aggregated, buffer.ts).
 */
export class Handout implements RoundHandle {
  readonly kind = 'handout' as const;
  /** Buffered mode does not compress uploads: dense frames of the task's codec. */
  readonly upload = null;
  /** The deadline's timer, cleared when the hand-out ends. */
  timer: NodeJS.Timeout | undefined;

  constructor(
    readonly taskId: string,
    readonly clientId: string,
    /** The buffer the model was handed out in. */
    readonly roundId: number,
    /** The version handed out: the one the client trains. */
    readonly baseVersion: number,
    readonly dimension: number,
    readonly privacy: PrivacyPlan | null,
    readonly message: RoundStart['message'],
    private readonly host: HandoutHost,
  ) {}

  get isOpen(): boolean {
    return this.host.holds(this);
  }

  /** Whether the model was handed out asking for the global model's metrics on held-out examples. */
  get heldOut(): boolean {
    return asksHeldOutReport(this.message.evaluation);
  }

  checkMembership(clientId: string): void {
    if (clientId !== this.clientId || !this.host.holds(this)) {
      throw new PollenError('ROUND_CLOSED', `round ${this.roundId} is over for this client`);
    }
    const refusal = this.host.refusal(this);
    if (refusal) throw refusal;
  }

  intake(submission: Submission): void {
    intake(this, submission);
  }

  fold(update: AcceptedUpdate): void {
    this.host.accept(this, update);
  }

  noteRejected(): void {
    this.host.noteRejected();
  }

  receive(): never {
    refuseStageMessage(this.roundId);
  }

  drop(clientId: string): void {
    if (clientId === this.clientId && this.host.holds(this)) this.host.takeBack(this, 'left');
  }

  close(reason: CloseReason): void {
    if (this.host.holds(this)) this.host.takeBack(this, reason === 'deadline' ? 'deadline' : 'stopped');
  }

  record(fields: Partial<RoundRecord> = {}): RoundRecord {
    return this.host.record(this, fields);
  }
}
