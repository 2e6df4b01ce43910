import type { UploadPlan } from '@pollen/compression';
import type { PollenError } from '@pollen/fl-core';
import type { PrivacyPlan } from './privacy.ts';
import type { AcceptedUpdate } from './round.ts';

/**
 * Where a contributor's update for a round goes, as the engine's update handler sees it: a
 * synchronous round (`Round`), or a client's hand-out in buffered mode. The handler checks
 * membership first, then the model version, then decodes and checks the payload, then accepts.
 */
export interface UpdateTarget {
  readonly roundId: number;
  /** The model version the client was given: an update built on another is STALE_MODEL. */
  readonly baseVersion: number;
  /** The clipping and noise the client was told to apply; null when the task does not clip. */
  readonly privacy: PrivacyPlan | null;
  /** How the client was told to compress its upload; absent or null: a dense frame of the task's codec. */
  readonly upload?: UploadPlan | null;
  /** Throw the error an update from this client deserves before any decoding, if any. */
  checkMembership(clientId: string): void;
  /** Fold in a validated update. */
  accept(update: AcceptedUpdate): void;
  /** Count a refused message from a client that was in the round. */
  noteRejected(): void;
}

/** A target that refuses every update with one error (a replay, a client that holds no model). */
export function refusingTarget(roundId: number, error: PollenError): UpdateTarget {
  return {
    roundId,
    baseVersion: -1,
    privacy: null,
    checkMembership(): void {
      throw error;
    },
    accept(): void {
      throw error;
    },
    noteRejected(): void {},
  };
}
