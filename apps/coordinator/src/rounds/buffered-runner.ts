import { performance } from 'node:perf_hooks';
import { PollenError, shuffle, specSize } from '@pollen/fl-core';
import type { RoundRecord, StoredTask } from '../store/types.ts';
import { Buffer } from './buffer.ts';
import type { DrivenRound, RoundHandle } from './handle.ts';
import { Handout, type HandoutHost, type TakeBack } from './handout.ts';
import { checkClipBit, decodeControlDelta } from './messages.ts';
import type { Contributor } from './population.ts';
import { type PrivacyPlan, planPrivacy } from './privacy.ts';
import type { AcceptedUpdate } from './round.ts';
import { RunnerBase, type TaskRunner } from './runner.ts';
import { type RoundStart, roundStart } from './start-message.ts';

/** The start message of the current model, built once per version and buffer. */
interface Broadcast {
  readonly roundId: number;
  readonly version: number;
  readonly start: RoundStart;
  readonly privacy: PrivacyPlan | null;
}

/**
 * FedBuff's buffered asynchronous mode (Nguyen et al. 2022, "Federated Learning with Buffered
 * Asynchronous Aggregation"): up to `rounds.concurrency` clients hold the current model at
 * once; each eligible client that frees up is handed the model as it stands; every update is
 * weighted by its own staleness s(tau) and buffered; whenever `rounds.bufferSize` (K) updates
 * are in, the buffer is aggregated and a version committed. A buffer is a round in the store:
 * its record counts the models handed out while it was open and the updates it took in.
 *
 * An update trained on an older version is still taken (the late report of a closed round
 * joins the next aggregate, docs/design.md "Overlapping rounds") unless it is more than tau_max versions behind,
 * which is refused with STALE_MODEL. A client adds at most one update to a buffer; a hand-out
 * it did not answer by `rounds.deadlineMs` is taken back and given to someone else.
 */
export class BufferedRunner extends RunnerBase implements TaskRunner, HandoutHost {
  private buffer: Buffer | null = null;
  private readonly handouts = new Map<string, Handout>();
  /** The hand-out round of each client's last accepted update, to tell a replay apart. */
  private readonly reportedIn = new Map<string, number>();
  private broadcast: Broadcast | null = null;
  /** Buffers full and waiting for (or in) their commit. */
  private committing = 0;
  /** Clients told to come back later during the current buffer. */
  private skipped = new Set<string>();
  /**
   * The task as last read (status, spec, current version), so that message handlers decide
   * without waiting on the store; refreshed by every pass of the loop and every commit.
   */
  private task: StoredTask | null = null;
  /** Each open buffer's record write, which its commit or abandonment must follow. */
  private readonly opened = new Map<number, Promise<void>>();

  protected inUse(): number[] {
    return [
      ...(this.buffer ? [this.buffer.baseVersion, ...this.buffer.versions()] : []),
      ...[...this.handouts.values()].map((h) => h.baseVersion),
      ...(this.broadcast ? [this.broadcast.version] : []),
    ];
  }

  openRoundIds(): number[] {
    return this.buffer ? [this.buffer.roundId] : [];
  }

  openRecords(): RoundRecord[] {
    return this.buffer ? [this.buffer.record()] : [];
  }

  target(clientId: string, roundId: number): RoundHandle | undefined {
    const handout = this.handouts.get(clientId);
    if (handout?.roundId === roundId) return handout;
    if (this.reportedIn.get(clientId) === roundId) {
      throw new PollenError('REPLAY', `client already reported for round ${roundId}`);
    }
    if (!this.buffer || roundId > this.buffer.roundId) return undefined;
    throw new PollenError('NOT_IN_ROUND', `client holds no model handed out in round ${roundId}`);
  }

  drop(clientId: string, roundId: number): void {
    const handout = this.handouts.get(clientId);
    if (handout?.roundId === roundId) this.takeBack(handout, 'left');
  }

  stopRounds(): void {
    for (const handout of [...this.handouts.values()]) this.takeBack(handout, 'stopped');
    const buffer = this.buffer;
    this.buffer = null;
    this.broadcast = null;
    // Through the committer, so that stop() waits for the record and it follows any commit.
    if (buffer) {
      void this.committer.exclusive(async () => {
        this.deps.onRound(await this.abandon(buffer, 'coordinator stopped'));
      });
    }
  }

  /** Buffered rounds send dense models only (the task refuses delta downloads). */
  roundModel(_c: Contributor, roundId: number): never {
    throw new PollenError(
      'INVALID_MESSAGE',
      `round ${roundId} sent the whole model: buffered rounds do not compress downloads`,
    );
  }

  resume(c: Contributor, roundId: number): boolean {
    const handout = this.handouts.get(c.clientId);
    if (handout?.roundId !== roundId || c.activeRound !== null) return false;
    c.activeRound = roundId;
    c.send('round:start', handout.message);
    this.deps.population.touch();
    return true;
  }

  /** Buffered mode has no rounds another node could fold partial sums into. */
  driven(_roundId: number): DrivenRound | undefined {
    return undefined;
  }

  protected async step(task: StoredTask): Promise<void> {
    if (this.deps.cluster) {
      // Refused when such a task is created on a cluster; one made on a single node waits here.
      this.deps.log.error({ task: this.taskId }, 'buffered rounds do not run on several coordinators yet');
      return this.waitForChange(60_000);
    }
    this.task = task;
    const { maxRounds } = task.spec.rounds;
    if (maxRounds > 0 && task.currentVersion >= maxRounds) {
      if (this.committing === 0) {
        this.stopRounds();
        if (task.status === 'running') await this.complete(task);
      }
      return this.waitForChange();
    }
    // A buffer opens once rounds.minClients are free to take the model (or hand-outs are still
    // out, whose updates need somewhere to go), so an idle task does not open empty rounds.
    const free = this.deps.population.available(this.taskId).length;
    if (
      task.status === 'running' &&
      !this.buffer &&
      (this.handouts.size > 0 || free >= task.spec.rounds.minClients)
    ) {
      const id = await this.roundId();
      if (!this.buffer) this.openBuffer(task, id);
    }
    // While a buffer commits, the model is about to change: hand out the new one, not the old.
    if (task.status === 'running' && this.committing === 0 && this.buffer) {
      const broadcast = await this.current(task, this.buffer);
      // The store answered: hand out only if nothing changed meanwhile.
      if (this.committing === 0 && this.buffer?.roundId === broadcast.roundId) this.handOut(task, broadcast);
    }
    return this.waitForChange();
  }

  /** Open the next buffer at once: updates may arrive while its record is being written. */
  private openBuffer(task: StoredTask, roundId: number): void {
    const buffer = new Buffer({
      taskId: task.spec.id,
      roundId,
      baseVersion: task.currentVersion,
      dimension: specSize(task.weightSpec),
    });
    const opened = buffer.record();
    this.opened.set(
      roundId,
      this.deps.store.openRound(opened).then(() => this.deps.onRoundStarted(opened)),
    );
    this.buffer = buffer;
    this.skipped = new Set();
    this.deps.log.info({ task: task.spec.id, round: roundId, version: task.currentVersion }, 'buffer opened');
  }

  /** The current model's start message for the open buffer, built once per version. */
  private async current(task: StoredTask, buffer: Buffer): Promise<Broadcast> {
    const version = task.currentVersion;
    if (this.broadcast?.version === version && this.broadcast.roundId === buffer.roundId)
      return this.broadcast;
    const { store } = this.deps;
    const base = await this.committer.current(task);
    const { spec } = task;
    // Mode 'off' only (FedBuff with accounting is refused at task creation): at most a fixed clip.
    const privacy = planPrivacy(
      spec,
      await store.getPrivacy(spec.id),
      { rate: 1, clamped: 'none' },
      spec.rounds.bufferSize,
      spec.rounds.bufferSize,
      base.weights.length,
    );
    const start = roundStart(spec, {
      base: this.deps.base,
      roundId: buffer.roundId,
      version,
      weights: base.weights,
      deadline: 0,
      server: await this.committer.serverFor(task, base.weights.length),
      privacy,
    });
    this.broadcast = { roundId: buffer.roundId, version, start, privacy };
    return this.broadcast;
  }

  /** Hand the current model to free, eligible clients up to the concurrency limit. */
  private handOut(task: StoredTask, broadcast: Broadcast): void {
    const buffer = this.buffer;
    if (!buffer) return;
    const { population } = this.deps;
    const { concurrency, deadlineMs } = task.spec.rounds;
    const free = concurrency - this.handouts.size;
    const candidates = population.available(this.taskId).filter((c) => !buffer.has(c.clientId));
    if (candidates.length === 0) return;
    shuffle(candidates, this.rng);
    const chosen = free > 0 ? candidates.slice(0, free) : [];
    if (chosen.length > 0) {
      const { start, privacy, version } = broadcast;
      const deadline = Date.now() + deadlineMs;
      const message = { ...start.message, deadline };
      const dimension = specSize(task.weightSpec);
      for (const c of chosen) {
        const handout = new Handout(
          this.taskId,
          c.clientId,
          buffer.roundId,
          version,
          dimension,
          privacy,
          message,
          this,
        );
        handout.timer = setTimeout(() => handout.close('deadline'), deadlineMs);
        handout.timer.unref();
        this.handouts.set(c.clientId, handout);
        buffer.noteHandout(start.bytesPerClient);
        c.activeRound = buffer.roundId;
        c.send('round:start', message);
      }
      population.touch();
    }
    const left = candidates.slice(chosen.length).filter((c) => !this.skipped.has(c.clientId));
    for (const c of left) this.skipped.add(c.clientId);
    this.skip(left, buffer.roundId, {
      population: candidates.length,
      cohort: Math.max(1, concurrency),
      roundMs: deadlineMs,
    });
  }

  holds(handout: Handout): boolean {
    return this.handouts.get(handout.clientId) === handout;
  }

  /** A hand-out ends without an update: the client is free again and hears the round is over for it. */
  takeBack(handout: Handout, why: TakeBack): void {
    const { population } = this.deps;
    clearTimeout(handout.timer);
    this.handouts.delete(handout.clientId);
    if (this.buffer?.roundId === handout.roundId && why !== 'stopped') this.buffer.noteLost();
    const c = population.byClientId(handout.clientId);
    if (c?.activeRound === handout.roundId) c.activeRound = null;
    c?.send('round:end', {
      taskId: this.taskId,
      roundId: handout.roundId,
      status: 'abandoned',
      modelVersion: this.task?.currentVersion ?? handout.baseVersion,
    });
    population.touch();
  }

  refusal(handout: Handout): PollenError | undefined {
    if (!this.buffer) return new PollenError('ROUND_CLOSED', 'no buffer is open');
    const task = this.task!;
    const tau = task.currentVersion - handout.baseVersion;
    const { maxStaleness } = task.spec.strategy.staleness;
    if (tau <= maxStaleness) return undefined;
    // Refused before any decoding; the client is free for the current model.
    this.takeBack(handout, 'stale');
    return new PollenError(
      'STALE_MODEL',
      `update trained on version ${handout.baseVersion} is ${tau} versions behind, past strategy.staleness.maxStaleness = ${maxStaleness}`,
    );
  }

  noteRejected(): void {
    this.buffer?.noteRejected();
  }

  record(handout: Handout, fields: Partial<RoundRecord>): RoundRecord {
    const buffer = this.buffer?.roundId === handout.roundId ? this.buffer : null;
    if (!buffer) throw new PollenError('ROUND_CLOSED', `round ${handout.roundId} is over`);
    return buffer.record(fields);
  }

  accept(handout: Handout, update: AcceptedUpdate): void {
    const buffer = this.buffer;
    if (!buffer || this.handouts.get(update.clientId) !== handout) {
      throw new PollenError('ROUND_CLOSED', `round ${handout.roundId} is over for this client`);
    }
    decodeControlDelta(update.controlDelta, handout.dimension, false);
    checkClipBit(update.clipBit, false);
    buffer.add(update, handout.baseVersion, handout.roundId);
    clearTimeout(handout.timer);
    this.handouts.delete(update.clientId);
    this.reportedIn.set(update.clientId, handout.roundId);
    const { population } = this.deps;
    const c = population.byClientId(update.clientId);
    if (c?.activeRound === handout.roundId) c.activeRound = null;
    const task = this.task!;
    if (buffer.count >= task.spec.rounds.bufferSize) this.close(task, buffer);
    population.touch();
  }

  /** K updates are in: a new buffer takes the next ones while this one is committed. */
  private close(task: StoredTask, buffer: Buffer): void {
    this.buffer = null;
    this.committing++;
    // The next buffer takes the updates still out at once; its id is counted in memory, so no
    // store round trip. With none out, the loop opens it when clients are free.
    if (task.status === 'running' && this.handouts.size > 0) {
      void this.roundId().then((id) => {
        if (!this.buffer && !this.stopped) this.openBuffer(task, id);
      });
    }
    void this.committer
      .exclusive(() => this.finish(buffer))
      .finally(() => {
        this.committing--;
        this.poke();
      });
  }

  private async finish(buffer: Buffer): Promise<void> {
    const { store, population, log } = this.deps;
    const rlog = log.child({ task: this.taskId, round: buffer.roundId });
    await this.opened.get(buffer.roundId);
    const task = await store.getTask(this.taskId);
    let record: RoundRecord | null = null;
    let why = '';
    try {
      if (!task) throw new Error(`task ${this.taskId} is gone`);
      const { spec } = task;
      if (spec.rounds.maxRounds > 0 && task.currentVersion >= spec.rounds.maxRounds) {
        why = `the task committed its ${spec.rounds.maxRounds} rounds`;
      } else {
        const current = await this.committer.current(task);
        const aggregationStartedAt = performance.now();
        const aggregate = buffer.aggregate(current.version, spec.strategy.staleness);
        if (!aggregate) {
          why = `every update is past strategy.staleness.maxStaleness = ${spec.strategy.staleness.maxStaleness}`;
        } else {
          record = await this.committer.commit({
            task,
            current,
            delta: aggregate.delta,
            privacy: null,
            clipBitSum: 0,
            aggregationStartedAt,
            record: (fields) => buffer.record({ ...fields, staleness: aggregate.staleness }),
          });
          rlog.info(
            {
              reported: record.reported,
              version: record.newVersion,
              staleness: aggregate.staleness,
              aggregationMs: record.aggregationMs,
            },
            'buffer committed',
          );
        }
      }
    } catch (err) {
      rlog.error({ err }, 'aggregation failed');
      why = `aggregation failed: ${(err as Error).message}`;
    }
    if (!record) record = await this.abandon(buffer, why);
    else this.opened.delete(buffer.roundId);
    // Message handlers see the new version at once.
    if (record.status === 'committed' && this.task) {
      this.task = { ...this.task, currentVersion: record.newVersion! };
    }
    for (const [clientId, roundId] of buffer.contributors) {
      population.byClientId(clientId)?.send('round:end', {
        taskId: this.taskId,
        roundId,
        status: record.status,
        modelVersion: record.newVersion ?? task?.currentVersion ?? buffer.baseVersion,
      });
    }
    this.deps.onRound(record);
  }

  private async abandon(buffer: Buffer, why: string): Promise<RoundRecord> {
    const record = buffer.record({ status: 'abandoned', endedAt: Date.now(), reason: why });
    await this.opened.get(buffer.roundId);
    this.opened.delete(buffer.roundId);
    await this.deps.store.abandonRound(record);
    this.deps.log.warn({ task: this.taskId, round: buffer.roundId, reason: why }, 'buffer abandoned');
    return record;
  }
}
