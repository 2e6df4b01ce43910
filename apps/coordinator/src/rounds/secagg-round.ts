import { randomBytes } from 'node:crypto';
import {
  decodeSecAggSum,
  firstNonFinite,
  fixedPointBits,
  layoutWords,
  PollenError,
  type RoundSecAgg,
  roundNeighbourhood,
  type SecAggLayout,
  SecAggServer,
  type SecAggSum,
  secAggParams,
  toPollenError,
} from '@pollen/fl-core';
import { nativeSecAggCrypto } from '@pollen/secagg-node';
import { type Clock, systemClock } from '../clock.ts';
import type { RoundRecord } from '../store/types.ts';
import type { SharePlan } from './cluster-port.ts';
import { applyEffectiveSteps } from './fednova.ts';
import type { CloseReason, DrivenRound, Submission } from './handle.ts';
import { refusePlainUpdate } from './intake.ts';
import type { PrivacyPlan } from './privacy.ts';
import { buildRecord, Tally } from './record.ts';
import type { RoundAggregate } from './round.ts';
import type { SecAggEvent } from './secagg-messages.ts';
import {
  closeStageMessages,
  type SecAggRoundOptions,
  type SecAggServerEvent,
  type StageReport,
  startBlock,
  takeStageMessage,
} from './secagg-stage.ts';

export type { SecAggRoundOptions, SecAggServerEvent };

/**
 * A securely aggregated round (SecAgg+: Bonawitz et al., CCS 2017; Bell et al., CCS 2020) with
 * the surface the runner expects of a Round: `closed`, `drop`, `close`, `aggregate`, `record`.
 * It drives fl-core's transport-free SecAggServer over the clients' sockets, stage by stage:
 *
 * 1. advertise: every selected client sends its two public keys on receiving round:start;
 *    closes when all did (or dropped) or after `stageMs`, and sends each its neighbours' keys;
 * 2. share: each sends its Shamir shares encrypted per neighbour; closes the same way and
 *    routes the ciphertexts (`secagg:deliver`);
 * 3. mask: each trains, then sends its masked vector; closes at `target` inputs, when every
 *    sharer answered or dropped, or at the round's deadline; fewer than `minReports` or a
 *    secret left with fewer than t holders abort here, before any share is requested;
 * 4. unmask: the survivors reveal the shares asked of them; finishes as soon as they suffice,
 *    and aborts at `stageMs` if they do not.
 *
 * An abort releases nothing: the running masked sum and every share are dropped, `failure`
 * says why, no aggregate exists and the runner abandons the round. The coordinator never
 * holds an unmasked individual vector: only the sum, and only after a complete unmask stage.
 */
export class SecAggRound implements DrivenRound {
  readonly kind = 'secure' as const;
  readonly taskId: string;
  readonly roundId: number;
  readonly baseVersion: number;
  readonly startedAt: number;
  readonly deadline: number;
  readonly target: number;
  readonly closed: Promise<CloseReason>;
  readonly privacy: PrivacyPlan | null;
  readonly layout: SecAggLayout;
  /** How the cohort was drawn, kept in every record of the round. */
  sampling: Pick<RoundRecord, 'eligible' | 'sampling'> = {};
  /** Why the protocol aborted, once it did. */
  failure: string | null = null;
  private readonly options: SecAggRoundOptions;
  private readonly server: SecAggServer;
  private readonly clients: readonly string[];
  private readonly index = new Map<string, number>();
  private readonly gone = new Set<number>();
  private readonly reports = new Map<number, StageReport>();
  /** The last stage message sent to each client, for one that reconnects (`resend`). */
  private readonly lastSent = new Map<number, { event: SecAggServerEvent; payload: object }>();
  private result: { sum: SecAggSum; contributors: readonly number[] } | null = null;
  private readonly tally = new Tally();
  private maskClosedBy: CloseReason = 'all-accounted';
  private closeReason: CloseReason | null = null;
  private resolveClosed!: (reason: CloseReason) => void;
  private cancelTimer: (() => void) | null = null;
  private readonly clock: Clock;

  constructor(options: SecAggRoundOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.startedAt = this.clock.now();
    this.taskId = options.taskId;
    this.roundId = options.roundId;
    this.baseVersion = options.baseVersion;
    this.deadline = this.startedAt + options.deadlineMs;
    this.target = options.target;
    this.privacy = options.privacy ?? null;
    this.clients = [...options.selected];
    for (const [i, id] of this.clients.entries()) this.index.set(id, i);
    const n = this.clients.length;
    this.layout = {
      dimension: options.dimension,
      coordinates: options.coordinates ?? null,
      control: options.scaffold ?? false,
      clipBit: this.privacy?.message.clipBit ?? false,
      steps: options.fednova ?? false,
      range: options.settings.range,
      bits: fixedPointBits(n),
    };
    const { k, threshold } = roundNeighbourhood(options.settings, n);
    // Node's native ChaCha20 and X25519 unmask what the browsers masked with @noble.
    this.server = new SecAggServer(
      secAggParams({ n, d: layoutWords(this.layout), k, threshold, seed: new Uint8Array(randomBytes(32)) }),
      nativeSecAggCrypto,
    );
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.arm(options.settings.stageMs);
  }

  /** The model's dimension. */
  get dimension(): number {
    return this.layout.dimension;
  }

  /** This client's round:start carries its SecAgg block. */
  startFor(clientId: string): { readonly secagg: RoundSecAgg } {
    return { secagg: this.secAggFor(clientId) };
  }

  /**
   * A client back within its grace is not started again: its keys and shares live in its
   * worker, which outlives the connection, and a second start would only wipe them. It gets the
   * stage message it may have missed instead.
   */
  resume(clientId: string, _sendStart: () => void): void {
    this.resend(clientId);
  }

  /** The other nodes relay their clients' stage messages here; they get their SecAgg blocks. */
  share(remote: readonly string[]): SharePlan {
    return {
      dimension: 0,
      target: this.target,
      robust: { kind: 'none' },
      scaffold: false,
      privacy: this.privacy,
      secagg: Object.fromEntries(remote.map((id) => [id, this.secAggFor(id)])),
    };
  }

  /** A secure round has no partial sums: every stage goes through the lease holder. */
  absorb(): never {
    throw new PollenError(
      'INVALID_MESSAGE',
      `round ${this.roundId} is securely aggregated: it takes no partials`,
    );
  }

  /** This client's SecAgg block of round:start. */
  secAggFor(clientId: string): RoundSecAgg {
    const index = this.index.get(clientId);
    if (index === undefined) throw new PollenError('NOT_IN_ROUND', `client is not in round ${this.roundId}`);
    return startBlock(this.server, this.layout, index, this.options.settings.stageMs);
  }

  /** The protocol's stage, for logs and tests. */
  get stage(): string {
    return this.server.stage;
  }

  get isOpen(): boolean {
    return this.closeReason === null;
  }

  get reason(): CloseReason | null {
    return this.closeReason;
  }

  get selectedCount(): number {
    return this.clients.length;
  }

  /** Clients whose masked input is in the released sum; before it, those whose input arrived; 0 after an abort. */
  get reportedCount(): number {
    if (this.failure !== null) return 0;
    return this.result ? this.result.contributors.length : this.reports.size;
  }

  get droppedCount(): number {
    return this.clients.length - this.reportedCount;
  }

  get rejected(): number {
    return this.tally.rejected;
  }

  /** Adaptive clipping: the securely summed clipping bits. */
  get clipBitSum(): number {
    return this.result?.sum.clipBits ?? 0;
  }

  isSelected(clientId: string): boolean {
    return this.index.has(clientId);
  }

  /** For `withdraw` and plain `update`: selected, still in the round, round open. */
  checkMembership(clientId: string): void {
    const index = this.index.get(clientId);
    if (index === undefined) throw new PollenError('NOT_IN_ROUND', `client is not in round ${this.roundId}`);
    if (!this.isOpen) throw new PollenError('ROUND_CLOSED', `round ${this.roundId} is closed`);
    if (this.gone.has(index)) throw new PollenError('ROUND_CLOSED', `client left round ${this.roundId}`);
  }

  /** A plain update has no place in a secure round: refused, whoever sends it. */
  intake(submission: Submission): void {
    refusePlainUpdate(this, submission);
  }

  noteRejected(): void {
    this.tally.rejected++;
  }

  /**
   * A stage message from a selected client (its envelope already checked by the gateway). Any
   * refusal throws with a stable code and leaves the round as it was for everyone else.
   */
  receive(event: SecAggEvent, clientId: string, body: Record<string, unknown>): void {
    this.checkMembership(clientId);
    const from = this.index.get(clientId)!;
    try {
      const taken = takeStageMessage(this.server, event, from, body, this);
      this.tally.bytesUp += taken.bytes;
      if (taken.report) this.reports.set(from, taken.report);
    } catch (err) {
      this.tally.rejected++;
      throw err;
    }
    this.advance();
  }

  /**
   * A client back from a broken connection within its grace period: send again the stage
   * message it may have missed, if it has not answered that stage yet. A duplicate is harmless:
   * the client's state machine refuses a message out of stage without changing anything.
   */
  resend(clientId: string): void {
    const index = this.index.get(clientId);
    if (index === undefined || !this.isOpen || this.gone.has(index)) return;
    const last = this.lastSent.get(index);
    if (last && this.server.pending().includes(index)) this.options.send(clientId, last.event, last.payload);
  }

  /** A selected client vanished or withdrew: its stage stops waiting for it. */
  drop(clientId: string): void {
    const index = this.index.get(clientId);
    if (index === undefined || !this.isOpen) return;
    this.gone.add(index);
    this.advance();
  }

  /** The runner stops the round ('stopped'): abort, release nothing. */
  close(reason: CloseReason): void {
    if (!this.isOpen) return;
    this.fail(reason === 'stopped' ? 'coordinator stopped' : `closed: ${reason}`, reason);
  }

  /** Close the stage early once nobody it waits for can still answer (or the target is met). */
  private advance(): void {
    while (this.isOpen) {
      const stage = this.server.stage;
      const waiting = this.server.pending().filter((id) => !this.gone.has(id));
      if (stage === 'unmask') {
        // As soon as the shares suffice; and with nobody left to answer, at once (finish aborts).
        if (this.server.canFinish() || waiting.length === 0) this.finish();
        return;
      }
      const enough = stage === 'mask' && this.reports.size >= this.target;
      if (waiting.length > 0 && !enough) return;
      if (enough && waiting.length > 0) this.maskClosedBy = 'target-reached';
      this.closeStage();
      if (this.server.stage === stage) return;
    }
  }

  private arm(ms: number): void {
    this.cancelTimer?.();
    this.cancelTimer = this.clock.setTimeout(() => this.onTimer(), Math.max(0, ms));
  }

  private onTimer(): void {
    this.cancelTimer = null;
    if (!this.isOpen) return;
    if (this.server.stage === 'mask') this.maskClosedBy = 'deadline';
    if (this.server.stage === 'unmask') {
      // The deadline of the last stage: finish() aborts when the shares do not suffice.
      this.finish();
      return;
    }
    this.closeStage();
    this.advance();
  }

  /** End the current stage and send every client still in the round its next message. */
  private closeStage(): void {
    const { taskId, roundId } = this;
    const { settings, log } = this.options;
    const send = (clientId: string, event: SecAggServerEvent, payload: object): void => {
      this.lastSent.set(this.index.get(clientId)!, { event, payload });
      this.options.send(clientId, event, payload);
    };
    const stage = this.server.stage;
    const waiting = this.server.pending();
    log?.info(
      { stage, missing: waiting.length, dropped: waiting.filter((id) => this.gone.has(id)).length },
      'secagg stage closed',
    );
    if (stage === 'mask' && this.reports.size < this.options.minReports) {
      this.server.abort();
      this.fail(`${this.reports.size} of ${this.options.minReports} required masked inputs`);
      return;
    }
    try {
      const next = closeStageMessages(this.server, { taskId, roundId });
      if (!next) return;
      for (const [id, payload] of next.messages) send(this.clients[id]!, next.event, payload);
      // The mask stage runs to the round's deadline: clients train in it.
      this.arm(stage === 'share' ? this.deadline - this.clock.now() : settings.stageMs);
    } catch (err) {
      this.fail(toPollenError(err).message);
    }
  }

  private finish(): void {
    try {
      const { sum, contributors } = this.server.finish();
      const decoded = decodeSecAggSum(this.layout, sum, contributors.length);
      const bad = firstNonFinite(decoded.delta);
      if (bad >= 0) throw new PollenError('NON_FINITE', `the sum has a non-finite value at index ${bad}`);
      this.result = { sum: decoded, contributors };
      this.options.log?.info({ contributors: contributors.length }, 'secure aggregation unmasked the sum');
      this.settle(this.maskClosedBy);
    } catch (err) {
      this.fail(toPollenError(err).message);
    }
  }

  private fail(why: string, reason: CloseReason = 'deadline'): void {
    if (!this.isOpen) return;
    this.options.log?.warn({ stage: this.server.stage, why }, 'secure aggregation aborted; nothing released');
    if (this.server.stage !== 'aborted' && this.server.stage !== 'done') this.server.abort();
    this.failure = why;
    this.result = null;
    this.settle(reason);
  }

  private settle(reason: CloseReason): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.closeReason = reason;
    this.resolveClosed(reason);
  }

  /**
   * The mean of the survivors' updates: the recovered sum over their count, or under DP over
   * the plan's expected count (the fixed-denominator estimator, as in round.ts). Every survivor
   * counts once: weighting by example counts would need them inside the mask too.
   */
  aggregate(): RoundAggregate {
    if (!this.result) throw new PollenError('SECAGG_ABORTED', this.failure ?? 'the sum is not recovered yet');
    const { sum, contributors } = this.result;
    const count = contributors.length;
    const denominator = this.privacy?.private ? this.privacy.expectedReports : count;
    const delta = Float32Array.from(sum.delta, (v) => v / denominator);
    // FedNova: the sum is of Delta_i / tau_i; tau_eff = sum tau_i / count came in the mask
    // (tasks refuse FedNova under DP, so the denominator is the count here).
    if (sum.steps !== undefined) applyEffectiveSteps(delta, count, sum.steps);
    const meanControlDelta = sum.controlDelta
      ? Float32Array.from(sum.controlDelta, (v) => v / count)
      : undefined;
    return { delta, ...(meanControlDelta ? { meanControlDelta } : {}) };
  }

  /** The unmasked sum of the survivors' values, as the layout decodes it (a secure evaluation's totals). */
  summed(): Float32Array {
    if (!this.result) throw new PollenError('SECAGG_ABORTED', this.failure ?? 'the sum is not recovered yet');
    return this.result.sum.delta;
  }

  /** The round's record as it stands (record.ts): only the survivors' reports once the sum is out. */
  record(fields: Partial<RoundRecord> = {}): RoundRecord {
    const contributors = this.result ? new Set(this.result.contributors) : null;
    const counted = new Tally();
    for (const [id, r] of this.reports) if (!contributors || contributors.has(id)) counted.count(r);
    return buildRecord(
      {
        taskId: this.taskId,
        roundId: this.roundId,
        baseVersion: this.baseVersion,
        startedAt: this.startedAt,
        selected: this.clients.length,
        reported: this.reportedCount,
        deadlineHit: this.closeReason === 'deadline',
        reason: this.failure,
        privacy: this.privacy,
        tally: this.tally,
        clientMetrics: counted.metrics,
        backends: counted.backends,
        extra: this.sampling,
      },
      fields,
    );
  }
}
