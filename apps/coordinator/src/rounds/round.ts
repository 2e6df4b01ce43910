import { type SparseVector, sparseToDense, type UploadPlan } from '@pollen/compression';
import {
  type Backend,
  type ClientMetrics,
  type HeldOutReport,
  type PartialSum,
  PollenError,
  type RobustConfig,
  robustAggregate,
  WeightedAccumulator,
  type WeightedVector,
} from '@pollen/fl-core';
import { type Clock, systemClock } from '../clock.ts';
import type { ClientRoundMetrics, RoundRecord } from '../store/types.ts';
import type { SharePlan } from './cluster-port.ts';
import { applyEffectiveSteps, normalizeUpload, roundSteps } from './fednova.ts';
import type { CloseReason, DrivenRound, Submission } from './handle.ts';
import { intake, refuseStageMessage } from './intake.ts';
import { checkClipBit, decodeControlDelta } from './messages.ts';
import type { PrivacyPlan } from './privacy.ts';
import { buildRecord, Tally } from './record.ts';

export type { CloseReason };

export interface AcceptedUpdate {
  readonly clientId: string;
  /** The decoded update: dense, or sparse (top-k, random-k, shared set), folded in O(k). */
  readonly delta: Float32Array | SparseVector;
  readonly numExamples: number;
  readonly backend: Backend;
  /** Local training's metrics and, when the round asked, the global model's on held-out examples. */
  readonly metrics: ClientMetrics & { readonly heldOut?: HeldOutReport };
  readonly bytes: number;
  /** SCAFFOLD's Delta c_i frame as received, decoded and checked by `accept`. */
  readonly controlDelta?: Uint8Array;
  /** Adaptive clipping's bit, checked by `accept` against the round's privacy plan. */
  readonly clipBit?: 0 | 1;
  /** Local steps the client reported (validated); required under FedNova. */
  readonly steps?: number;
}

/** A closed round's aggregate, ready for the server strategy. */
export interface RoundAggregate {
  /** The aggregated model delta: the example-weighted mean, or the robust rule's result. */
  readonly delta: Float32Array;
  /** SCAFFOLD: the plain mean of the clients' Delta c_i. */
  readonly meanControlDelta?: Float32Array;
  /** Krum / Multi-Krum: how many updates were kept. */
  readonly kept?: number;
}

/**
 * What one coordinator of a cluster gathered of a round from its own clients: who reported and
 * who did not, and the running sums (or, for a robust rule, the vectors). The lease holder
 * absorbs each node's partial into its round; sums add up, so the aggregate is the one a single
 * coordinator would have computed over all the updates.
 */
export interface RoundPartial {
  readonly reported: readonly string[];
  readonly dropped: readonly string[];
  readonly rejected: number;
  readonly bytesUp: number;
  readonly clipBits: number;
  readonly backends: Partial<Record<Backend, number>>;
  readonly metrics: readonly ClientRoundMetrics[];
  readonly sum: PartialSum | null;
  readonly updates: readonly WeightedVector[] | null;
  readonly controls: PartialSum | null;
  /** FedNova: sum of weight * local steps over the reports (0 otherwise). */
  readonly weightedSteps?: number;
}

/**
 * One round in flight: who was selected, who reported or dropped, and what they sent. Under
 * FedAvg's mean that is a running weighted sum, O(d) however many report; a robust rule needs
 * every update, so only then are the vectors kept. Under SCAFFOLD a second running sum holds
 * the Delta c_i. It closes once, when every selected client is accounted for, when the target
 * number of reports is reached, or at the deadline.
 */
export class Round implements DrivenRound {
  readonly kind = 'sync' as const;
  /** A plain round does not fail inside: it commits or is abandoned for its counts. */
  readonly failure = null;
  readonly taskId: string;
  readonly roundId: number;
  readonly baseVersion: number;
  readonly startedAt: number;
  readonly deadline: number;
  readonly target: number;
  readonly closed: Promise<CloseReason>;
  private readonly selected: Set<string>;
  private readonly reported = new Set<string>();
  private readonly dropped = new Set<string>();
  readonly dimension: number;
  readonly robust: RobustConfig;
  readonly scaffold: boolean;
  /** FedNova: updates are normalized by their local steps (fednova.ts). */
  readonly fednova: boolean;
  private weightedSteps = 0;
  /** The round's clipping and noise; null when the task does not clip. */
  readonly privacy: PrivacyPlan | null;
  /** How this round's uploads are encoded; null: dense frames of the task's codec. */
  readonly upload: UploadPlan | null;
  readonly heldOut: boolean;
  /** The running weighted sum of deltas (robust kind 'none') ... */
  private readonly accumulator: WeightedAccumulator | null;
  /** ... or every delta, for a robust rule. */
  private readonly updates: WeightedVector[] | null;
  /** SCAFFOLD: the running unweighted sum of Delta c_i. */
  private readonly controls: WeightedAccumulator | null;
  private readonly tally = new Tally();
  private clipBits = 0;
  private closeReason: CloseReason | null = null;
  private resolveClosed!: (reason: CloseReason) => void;
  private readonly cancelTimer: () => void;

  constructor(options: {
    taskId: string;
    roundId: number;
    baseVersion: number;
    dimension: number;
    selected: readonly string[];
    target: number;
    deadlineMs: number;
    /** How deltas are combined (default: FedAvg's weighted mean). */
    robust?: RobustConfig;
    /** Whether updates carry SCAFFOLD's Delta c_i (default false). */
    scaffold?: boolean;
    /** Whether updates are averaged FedNova's way, normalized by their steps (default false). */
    fednova?: boolean;
    /** The round's clipping and noise, for a task that clips (default: none). */
    privacy?: PrivacyPlan | null;
    /** The round's upload compression (default: none, dense frames). */
    upload?: UploadPlan | null;
    /** Whether clients report the global model's metrics on held-out examples (default false). */
    heldOut?: boolean;
    /** Where the deadline's time comes from (default: the system clock). */
    clock?: Clock;
  }) {
    const clock = options.clock ?? systemClock;
    this.startedAt = clock.now();
    this.taskId = options.taskId;
    this.roundId = options.roundId;
    this.baseVersion = options.baseVersion;
    this.selected = new Set(options.selected);
    this.target = options.target;
    this.deadline = this.startedAt + options.deadlineMs;
    this.dimension = options.dimension;
    this.robust = options.robust ?? { kind: 'none' };
    this.scaffold = options.scaffold ?? false;
    this.fednova = options.fednova ?? false;
    this.privacy = options.privacy ?? null;
    this.upload = options.upload ?? null;
    this.heldOut = options.heldOut ?? false;
    const keep = this.robust.kind !== 'none';
    this.accumulator = keep ? null : new WeightedAccumulator(options.dimension);
    this.updates = keep ? [] : null;
    this.controls = this.scaffold ? new WeightedAccumulator(options.dimension) : null;
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.cancelTimer = clock.setTimeout(() => this.close('deadline'), options.deadlineMs);
  }

  get isOpen(): boolean {
    return this.closeReason === null;
  }

  get reason(): CloseReason | null {
    return this.closeReason;
  }

  get selectedCount(): number {
    return this.selected.size;
  }

  get reportedCount(): number {
    return this.reported.size;
  }

  get droppedCount(): number {
    return this.dropped.size;
  }

  get rejected(): number {
    return this.tally.rejected;
  }

  isSelected(clientId: string): boolean {
    return this.selected.has(clientId);
  }

  /** Throw the error a message from this client for this round deserves, if any. */
  checkMembership(clientId: string): void {
    if (!this.selected.has(clientId)) {
      throw new PollenError('NOT_IN_ROUND', `client is not in round ${this.roundId}`);
    }
    if (this.reported.has(clientId)) {
      throw new PollenError('REPLAY', `client already reported for round ${this.roundId}`);
    }
    if (!this.isOpen) throw new PollenError('ROUND_CLOSED', `round ${this.roundId} is closed`);
    if (this.dropped.has(clientId)) {
      throw new PollenError('ROUND_CLOSED', `client withdrew from round ${this.roundId}`);
    }
  }

  /** An update through the round's intake: membership, version, decode, norm, fold (intake.ts). */
  intake(submission: Submission): void {
    intake(this, submission);
  }

  /** A decoded update from a selected client, straight to the fold (a node's own tests, partials). */
  accept(update: AcceptedUpdate): void {
    this.checkMembership(update.clientId);
    this.fold(update);
  }

  /** Fold in a checked update; its Delta c_i frame and clip bit are checked here, first. */
  fold(update: AcceptedUpdate): void {
    const control = decodeControlDelta(update.controlDelta, this.dimension, this.scaffold);
    const bit = checkClipBit(update.clipBit, this.privacy?.message.clipBit ?? false);
    // Under DP every clipped report counts once: an example count is the client's own claim,
    // and weighting by it would let one client's contribution exceed the clip norm.
    const weight = this.privacy?.private ? 1 : update.numExamples;
    const steps = roundSteps(update.steps, this.fednova);
    const delta = steps === null ? update.delta : normalizeUpload(update.delta, steps);
    if (steps !== null) this.weightedSteps += weight * steps;
    if (delta instanceof Float32Array) {
      if (this.accumulator) this.accumulator.add(delta, weight);
      else this.updates!.push({ vector: delta, weight });
    } else if (this.accumulator) {
      // O(k): only the coordinates the client sent are touched.
      this.accumulator.addSparse(delta, weight);
    } else {
      // A robust rule compares whole vectors (tasks refuse sparse uploads with one; this
      // keeps a round correct should the two meet anyway).
      this.updates!.push({ vector: sparseToDense(delta), weight });
    }
    this.clipBits += bit ?? 0;
    // Algorithm 1 of Karimireddy et al. averages Delta c_i uniformly over the reporting clients.
    if (control) this.controls!.add(control, 1);
    this.reported.add(update.clientId);
    this.tally.bytesUp += update.bytes + (update.controlDelta?.byteLength ?? 0);
    this.tally.count(update);
    if (this.reported.size >= this.target) this.close('target-reached');
    else this.closeIfAccounted();
  }

  /** Adaptive clipping: how many accepted reports said their norm was at or below C. */
  get clipBitSum(): number {
    return this.clipBits;
  }

  /** Count a refused message from a selected client. */
  noteRejected(): void {
    this.tally.rejected++;
  }

  /** Stage messages belong to secure rounds. */
  receive(): never {
    refuseStageMessage(this.roundId);
  }

  /** A plain round's start is the same for every client. */
  startFor(): { readonly secagg?: never } {
    return {};
  }

  resume(_clientId: string, sendStart: () => void): void {
    sendStart();
  }

  share(): SharePlan {
    return {
      dimension: this.dimension,
      target: this.target,
      robust: this.robust,
      scaffold: this.scaffold,
      ...(this.fednova ? { fednova: true } : {}),
      privacy: this.privacy,
    };
  }

  /** A selected client vanished or withdrew. */
  drop(clientId: string): void {
    if (!this.isOpen || !this.selected.has(clientId) || this.reported.has(clientId)) return;
    this.dropped.add(clientId);
    this.closeIfAccounted();
  }

  private closeIfAccounted(): void {
    if (this.reported.size + this.dropped.size >= this.selected.size) this.close('all-accounted');
  }

  close(reason: CloseReason): void {
    if (this.closeReason !== null) return;
    this.closeReason = reason;
    this.cancelTimer();
    this.resolveClosed(reason);
  }

  /** This round's share of a cluster round: everything its own clients sent, for the lease holder. */
  partial(): RoundPartial {
    return {
      reported: [...this.reported],
      dropped: [...this.selected].filter((id) => !this.reported.has(id)),
      rejected: this.tally.rejected,
      bytesUp: this.tally.bytesUp,
      clipBits: this.clipBits,
      backends: { ...this.tally.backends },
      metrics: [...this.tally.metrics],
      sum: this.accumulator?.partial() ?? null,
      updates: this.updates ? [...this.updates] : null,
      controls: this.controls?.partial() ?? null,
      weightedSteps: this.weightedSteps,
    };
  }

  /**
   * Fold in another node's partial of this round (the lease holder does, for each node with
   * selected clients). Its clients must be selected here and not yet counted; a partial that
   * arrives after the round closed is refused, so what was aggregated is what the record says.
   */
  absorb(partial: RoundPartial): void {
    if (!this.isOpen) throw new PollenError('ROUND_CLOSED', `round ${this.roundId} is closed`);
    for (const id of [...partial.reported, ...partial.dropped]) {
      if (!this.selected.has(id) || this.reported.has(id)) {
        throw new PollenError(
          'NOT_IN_ROUND',
          `partial names client "${id}" that round ${this.roundId} cannot count`,
        );
      }
    }
    if (partial.reported.length > 0) {
      if (this.accumulator) this.accumulator.merge(partial.sum!);
      else this.updates!.push(...partial.updates!);
      if (this.controls && partial.controls) this.controls.merge(partial.controls);
      this.weightedSteps += partial.weightedSteps ?? 0;
    }
    for (const id of partial.reported) this.reported.add(id);
    for (const id of partial.dropped) this.dropped.add(id);
    this.tally.merge(partial);
    this.clipBits += partial.clipBits;
    if (this.reported.size >= this.target) this.close('target-reached');
    else this.closeIfAccounted();
  }

  /** Combine what the accepted updates sent; needs at least one (and 2f + 3 for Krum). */
  aggregate(): RoundAggregate {
    const meanControlDelta = this.controls?.mean();
    const control = meanControlDelta ? { meanControlDelta } : {};
    if (this.accumulator) return { delta: this.mean(this.accumulator), ...control };
    const { delta, selected } = robustAggregate(this.robust, this.updates!);
    return { delta, ...control, ...(selected ? { kept: selected.length } : {}) };
  }

  /**
   * The mean of the accumulated deltas; under DP the noised sum over the public expected
   * count of reports instead of the count that came (McMahan et al. 2018, "Learning
   * Differentially Private Recurrent Language Models", the fixed-denominator estimator).
   */
  private mean(accumulator: WeightedAccumulator): Float32Array {
    const mean = accumulator.mean();
    // FedNova (Wang et al. 2020): the mean of Delta_i / tau_i times tau_eff; tasks refuse it under DP.
    if (this.fednova) return applyEffectiveSteps(mean, accumulator.weight, this.weightedSteps);
    if (!this.privacy?.private) return mean;
    const factor = accumulator.count / this.privacy.expectedReports;
    for (let i = 0; i < mean.length; i++) mean[i] = mean[i]! * factor;
    return mean;
  }

  /** How the cohort was drawn, kept in every record of the round. */
  sampling: Pick<RoundRecord, 'eligible' | 'sampling'> = {};

  /** The round's record as it stands (record.ts). */
  record(fields: Partial<RoundRecord> = {}): RoundRecord {
    return buildRecord(
      {
        taskId: this.taskId,
        roundId: this.roundId,
        baseVersion: this.baseVersion,
        startedAt: this.startedAt,
        selected: this.selected.size,
        reported: this.reported.size,
        deadlineHit: this.closeReason === 'deadline',
        reason: null,
        privacy: this.privacy,
        tally: this.tally,
        extra: this.sampling,
      },
      fields,
    );
  }
}
