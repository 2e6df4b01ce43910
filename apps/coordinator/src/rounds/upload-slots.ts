import { PollenError } from '@pollen/fl-core';
import type { Clock } from '../clock.ts';

/**
 * The bytes of uploads a coordinator lets its contributors send at once (docs/operating.md,
 * "Upload flow control"): 64 MiB lets every upload of a 100k-parameter model through at once
 * and three of a 5M-parameter model's dense updates.
 */
export const DEFAULT_UPLOAD_BUDGET_BYTES = 64 * 1024 * 1024;

/** What a granted client is told. */
export interface UploadGrant {
  /** How long the slot's bytes stay counted; the permission itself lasts until the upload. */
  readonly grantMs: number;
}

export interface SlotRequest {
  /** The connection asking; it holds at most one request or permission at a time. */
  readonly socketId: string;
  readonly roundId: number;
  /** The largest upload the round may send: what the slot counts against the budget. */
  readonly bytes: number;
  /** Whether the round still wants the upload; checked again when the slot's turn comes. */
  readonly open: () => boolean;
}

interface Slot extends SlotRequest {
  readonly resolve: (grant: UploadGrant) => void;
  readonly reject: (err: PollenError) => void;
  granted: boolean;
  /** Whether its bytes count against the budget now (granted and not yet expired or used). */
  counted: boolean;
  cancelExpiry: () => void;
}

/**
 * Flow control on uploads (docs/design.md, "Upload flow control"). The transport reads a
 * message whole before any handler sees it, so when many devices upload at once the
 * coordinator holds every update in memory together: O(clients x d). A device asks for a slot
 * (`upload:slot`) once it has trained; slots are granted first come, first served while the
 * bytes granted and not yet received fit the budget (one at a time when a single upload is
 * larger), so what arrives at once is bounded by the budget, whatever the cohort's size. A
 * granted slot stops counting when its upload arrives, its connection closes, or its time runs
 * out (a slow link: the permission stays, only the budget moves on).
 */
export class UploadSlots {
  private readonly waiting: Slot[] = [];
  private readonly bySocket = new Map<string, Slot>();
  private inFlight = 0;
  private peak = 0;

  constructor(
    private readonly budgetBytes: number,
    private readonly clock: Clock,
    /** How long a granted upload of `bytes` may take on the slowest expected link. */
    private readonly holdMs: (bytes: number) => number,
  ) {}

  /** Bytes granted and not yet received. */
  get inFlightBytes(): number {
    return this.inFlight;
  }

  /** The most bytes granted and not yet received at any one time since the start. */
  get peakInFlightBytes(): number {
    return this.peak;
  }

  /** Requests waiting for their turn. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Wait for the connection's turn to upload to `roundId`. Asking again for the round a
   * permission is held for answers at once (the first answer may have been lost); asking for
   * another round gives up what the connection held or waited for.
   */
  request(req: SlotRequest): Promise<UploadGrant> {
    const held = this.bySocket.get(req.socketId);
    if (held?.granted && held.roundId === req.roundId)
      return Promise.resolve({ grantMs: this.holdMs(held.bytes) });
    if (held) this.release(req.socketId, 'another round was asked for');
    return new Promise<UploadGrant>((resolve, reject) => {
      const slot: Slot = { ...req, resolve, reject, granted: false, counted: false, cancelExpiry: () => {} };
      this.bySocket.set(req.socketId, slot);
      this.waiting.push(slot);
      this.pump();
    });
  }

  /**
   * Throw NO_UPLOAD_SLOT unless the connection was granted a slot for `roundId`; the caller
   * releases it once the upload is taken in or refused.
   */
  expect(socketId: string, roundId: number): void {
    const slot = this.bySocket.get(socketId);
    if (!slot?.granted || slot.roundId !== roundId) {
      throw new PollenError(
        'NO_UPLOAD_SLOT',
        `ask for an upload slot for round ${roundId} (upload:slot) and wait for it before sending`,
      );
    }
  }

  /**
   * An upload of the connection arrived (taken or refused): a slot it was granted is given up;
   * a request still waiting keeps its place.
   */
  arrived(socketId: string): void {
    if (this.bySocket.get(socketId)?.granted) this.release(socketId);
  }

  /** The connection closed, or asked for another round: what it held or waited for is given up. */
  release(socketId: string, why = 'the connection closed'): void {
    const slot = this.bySocket.get(socketId);
    if (!slot) return;
    this.bySocket.delete(socketId);
    if (slot.granted) this.uncount(slot);
    else {
      this.waiting.splice(this.waiting.indexOf(slot), 1);
      slot.reject(new PollenError('ROUND_CLOSED', `upload slot given up: ${why}`));
    }
    this.pump();
  }

  /** Refuse everything waiting (the coordinator is closing). */
  close(): void {
    const waiting = this.waiting.splice(0);
    for (const slot of waiting) slot.reject(new PollenError('ROUND_CLOSED', 'the coordinator is closing'));
    for (const slot of this.bySocket.values()) this.uncount(slot);
    this.bySocket.clear();
  }

  private uncount(slot: Slot): void {
    if (!slot.counted) return;
    slot.counted = false;
    slot.cancelExpiry();
    this.inFlight -= slot.bytes;
  }

  /** Grant the waiting requests, oldest first, while their bytes fit the budget. */
  private pump(): void {
    while (this.waiting.length > 0) {
      const next = this.waiting[0]!;
      if (!next.open()) {
        this.waiting.shift();
        this.bySocket.delete(next.socketId);
        next.reject(new PollenError('ROUND_CLOSED', `round ${next.roundId} closed while the upload waited`));
        continue;
      }
      if (this.inFlight > 0 && this.inFlight + next.bytes > this.budgetBytes) return;
      this.waiting.shift();
      next.granted = true;
      next.counted = true;
      this.inFlight += next.bytes;
      this.peak = Math.max(this.peak, this.inFlight);
      const grantMs = this.holdMs(next.bytes);
      next.cancelExpiry = this.clock.setTimeout(() => {
        this.uncount(next);
        this.pump();
      }, grantMs);
      next.resolve({ grantMs });
    }
  }
}
