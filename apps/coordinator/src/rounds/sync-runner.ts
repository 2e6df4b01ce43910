import { performance } from 'node:perf_hooks';
import {
  downloadOf,
  PollenError,
  poissonCohort,
  type RoundModelReply,
  scale,
  stalenessWeight,
} from '@pollen/fl-core';
import type { RoundRecord, StoredPrivacy, StoredTask } from '../store/types.ts';
import type { BroadcastModel } from './broadcast.ts';
import { CoordinateSets, roundUpload } from './coordinates.ts';
import type { CloseReason, DrivenRound, RoundHandle } from './handle.ts';
import type { Contributor } from './population.ts';
import { budgetExhaustedReason, loadLedger, type PrivacyPlan, planPrivacy, separated } from './privacy.ts';
import { Round } from './round.ts';
import { RunnerBase, type TaskRunner } from './runner.ts';
import { SecAggRound } from './secagg-round.ts';
import { asksHeldOut, type RoundStart, roundStart, startFor } from './start-message.ts';

/** How often a cluster's lease holder short of clients reads the other nodes' registry entries again. */
const CLUSTER_POLL_MS = 100;

/** A round between its selection and its commit or abandonment. */
interface Live {
  readonly round: DrivenRound;
  readonly cohort: readonly Contributor[];
  readonly start: RoundStart;
  /** The task's clients connected at selection: SCAFFOLD's N. */
  readonly populationSize: number;
  /** Compressed downloads: the broadcast model the round sends; null: the task downloads dense. */
  readonly broadcast: BroadcastModel | null;
  /** Bytes sent down to the round's clients so far: starts (deltas or dense), resends, `round:model`. */
  bytesDown: number;
  /** Clients that asked for the round's whole model (`round:model`), once each. */
  readonly modelRequests: Set<string>;
}

/**
 * Synchronous rounds: wait for enough eligible clients, Poisson-sample a cohort, broadcast the
 * global model, collect updates until the target, the last selected client or the deadline,
 * then aggregate them (mean or robust rule), apply the task's server strategy and commit, or
 * abandon the round.
 *
 * Up to `rounds.maxInFlight` rounds run at once (pipelining, docs/design.md "Overlapping rounds"): a new round
 * may be selected, from clients in no other round, before the last one committed. Rounds are
 * committed in the order they close, one at a time; an aggregate computed against version v and
 * applied at v + tau is weighted by s(tau) = (1 + tau)^-a and dropped past tau_max (Xie, Koyejo
 * and Gupta 2019; Nguyen et al. 2022). With maxInFlight = 1 tau is always 0.
 */
export class SyncRunner extends RunnerBase implements TaskRunner {
  /** Rounds selected and not yet committed or abandoned, by id. */
  private readonly live = new Map<number, Live>();
  /** Shared-coordinate sparsity: each round's coordinate set and the state that scores them. */
  readonly coordinates = new CoordinateSets();

  protected inUse(): number[] {
    return [...this.live.values()].map((l) => l.round.baseVersion);
  }

  openRoundIds(): number[] {
    return [...this.live.values()].filter((l) => l.round.isOpen).map((l) => l.round.roundId);
  }

  openRecords(): RoundRecord[] {
    return [...this.live.values()].filter((l) => l.round.isOpen).map((l) => l.round.record());
  }

  target(_clientId: string, roundId: number): RoundHandle | undefined {
    const round = this.live.get(roundId)?.round ?? this.shares.get(roundId);
    return round?.isOpen ? round : undefined;
  }

  drop(clientId: string, roundId: number): void {
    (this.live.get(roundId)?.round ?? this.shares.get(roundId))?.drop(clientId);
  }

  stopRounds(): void {
    for (const { round } of this.live.values()) round.close('stopped');
    for (const share of this.shares.values()) share.close('stopped');
  }

  driven(roundId: number): DrivenRound | undefined {
    const round = this.live.get(roundId)?.round;
    return round?.isOpen ? round : undefined;
  }

  /**
   * Who can be selected: this node's free clients, and in a cluster every other node's (read
   * before, so that nothing waits between the local read and the clients' marks), less those
   * already in a round this runner drives (the other nodes may not have said so yet).
   */
  private candidates(remote: readonly Contributor[]): Contributor[] {
    const local = this.deps.population.available(this.taskId);
    if (remote.length === 0) return local;
    const taken = new Set(local.map((c) => c.clientId));
    for (const { cohort } of this.live.values()) for (const c of cohort) taken.add(c.clientId);
    return [...local, ...remote.filter((c) => !taken.has(c.clientId))];
  }

  resume(c: Contributor, roundId: number): boolean {
    const live = this.live.get(roundId);
    if (!live?.round.isOpen || c.activeRound !== null) return false;
    try {
      live.round.checkMembership(c.clientId);
    } catch {
      return false;
    }
    c.activeRound = roundId;
    // A plain round sends its start again, with the whole model; a secure one catches the client up its own way.
    live.round.resume(c.clientId, () => {
      c.send('round:start', live.start.message);
      live.bytesDown += live.start.bytesPerClient;
      if (live.broadcast) c.model = { version: live.broadcast.version, checksum: live.broadcast.checksum };
    });
    this.deps.population.touch();
    return true;
  }

  roundModel(c: Contributor, roundId: number): RoundModelReply {
    const live = this.live.get(roundId);
    if (!live?.round.isOpen) throw new PollenError('ROUND_CLOSED', `round ${roundId} is not open`);
    live.round.checkMembership(c.clientId);
    if (!live.broadcast) {
      throw new PollenError(
        'INVALID_MESSAGE',
        `round ${roundId} sent the whole model: the task does not compress downloads`,
      );
    }
    if (live.modelRequests.has(c.clientId)) {
      throw new PollenError('REPLAY', `the model of round ${roundId} was already sent again to this client`);
    }
    live.modelRequests.add(c.clientId);
    live.bytesDown += live.start.modelBytes;
    c.model = { version: live.broadcast.version, checksum: live.broadcast.checksum };
    return { weights: live.start.message.weights!, checksum: live.broadcast.checksum };
  }

  protected async step(task: StoredTask): Promise<void> {
    if (task.status !== 'running') return this.waitForChange();
    const { maxRounds, minClients, maxInFlight } = task.spec.rounds;
    if (maxRounds > 0 && task.currentVersion + this.live.size >= maxRounds) {
      if (this.live.size === 0) return this.complete(task);
      return this.waitForChange();
    }
    if (this.live.size >= maxInFlight) return this.waitForChange();
    const { cluster } = this.deps;
    const candidates = separated(
      task.spec,
      await this.deps.store.getPrivacy(task.spec.id),
      this.candidates(cluster ? await cluster.remote(this.taskId) : []),
    );
    // Other nodes' clients free up without a local change event: a holder short of clients looks again soon.
    if (candidates.length < minClients) return this.waitForChange(cluster ? CLUSTER_POLL_MS : undefined);
    const pending = [...this.live.values()].map((l) => l.round.privacy).filter((p) => p !== null);
    if (await this.budgetSpent(task, candidates.length, pending)) return this.waitForChange();
    await this.startRound(task, pending);
  }

  /**
   * Before selecting: true when one more round, at the largest q its cohort could be charged,
   * would take the task's epsilon past its budget, counting the rounds in flight as if they
   * committed. With none in flight the task stops with status 'budget-exhausted'; with some,
   * it waits for them, since an abandoned one costs nothing.
   */
  private async budgetSpent(
    task: StoredTask,
    eligible: number,
    pending: readonly PrivacyPlan[],
  ): Promise<boolean> {
    const { store, log } = this.deps;
    const stored = await store.getPrivacy(task.spec.id);
    if (pending.length === 0) {
      const reason = budgetExhaustedReason(task.spec, stored, eligible);
      if (reason === null) return false;
      await store.exhaustBudget(task.spec.id, reason);
      log.warn({ task: task.spec.id, reason }, 'privacy budget exhausted; no more rounds');
      return true;
    }
    return budgetExhaustedReason(task.spec, withPending(task, stored, pending), eligible) !== null;
  }

  private async startRound(task: StoredTask, pending: readonly PrivacyPlan[]): Promise<void> {
    const { store, population } = this.deps;
    const { spec } = task;
    const { strategy, rounds } = spec;
    const base = await this.committer.current(task);
    const server = await this.committer.serverFor(task, base.weights.length);
    const stored = await store.getPrivacy(spec.id);
    const roundId = await this.roundId();
    const remote = this.deps.cluster ? await this.deps.cluster.remote(this.taskId) : [];
    // From here to the clients' marks nothing waits: the cohort is drawn from who is free now
    // (under DP-FTRL, and whose last round is far enough back).
    const candidates = separated(spec, stored, this.candidates(remote));
    if (candidates.length < rounds.minClients) return;
    // SCAFFOLD's N; in a cluster the other nodes' clients count as far as their registry shows (idle ones).
    const populationSize = population.counts(spec.id).total + remote.length;
    const { cohort, clamped, rate } = poissonCohort(
      candidates,
      {
        rate: rounds.samplingRate,
        overSelection: rounds.overSelection,
        minCohort: rounds.minClients,
        maxCohort: Math.max(rounds.minClients, Math.ceil(rounds.cohortSize * rounds.overSelection)),
      },
      this.rng,
    );
    const privacy = planPrivacy(
      spec,
      pending.length ? withPending(task, stored, pending) : stored,
      { rate, clamped },
      cohort.length,
      candidates.length,
      base.weights.length,
    );
    // Upload compression: the round's codec and, for shared-coordinate sparsity, its set.
    const coordinates = this.coordinates.forRound(spec, roundId, base.weights.length);
    const upload = roundUpload(spec, base.weights.length, coordinates, roundId);
    const options = {
      taskId: spec.id,
      roundId,
      baseVersion: base.version,
      dimension: base.weights.length,
      selected: cohort.map((c) => c.clientId),
      target: rounds.cohortSize,
      deadlineMs: rounds.deadlineMs,
      scaffold: strategy.scaffold,
      fednova: strategy.fednova,
      privacy,
      heldOut: asksHeldOut(spec, privacy),
      clock: this.deps.clock,
    };
    const remoteById = new Map(cohort.filter((c) => c.nodeId !== undefined).map((c) => [c.clientId, c]));
    // Secure aggregation: the same surface, the SecAgg+ stages inside (secagg-round.ts).
    const round: DrivenRound = spec.secureAggregation
      ? new SecAggRound({
          ...options,
          minReports: rounds.minReports,
          settings: spec.secureAggregation,
          log: this.deps.log.child({ task: spec.id, round: roundId, secagg: true }),
          // A client on another node of a cluster is reached through the adapter.
          send: (clientId, event, payload) =>
            (population.byClientId(clientId) ?? remoteById.get(clientId))?.send(event, payload),
          coordinates,
        })
      : new Round({ ...options, robust: strategy.robust, upload: upload.message ? upload.plan : null });
    round.sampling = { eligible: candidates.length, sampling: { rate, clamped } };
    // Compressed downloads: devices train from the broadcast model ŵ, the strategy applies their
    // updates to the true model w (broadcast.ts).
    const broadcast =
      downloadOf(spec.compression).kind === 'delta' ? this.downloads.at(base.version, base.weights) : null;
    const start = roundStart(spec, {
      base: this.deps.base,
      roundId: round.roundId,
      version: base.version,
      weights: broadcast?.weights ?? base.weights,
      modelChecksum: broadcast?.checksum ?? null,
      deadline: round.deadline,
      server,
      privacy,
      compression: upload.message,
    });
    const live: Live = {
      round,
      cohort,
      start,
      populationSize,
      broadcast,
      bytesDown: 0,
      modelRequests: new Set(),
    };
    this.live.set(round.roundId, live);
    for (const c of cohort) c.activeRound = round.roundId;
    population.touch();
    // The round is on record as open before any client hears of it.
    const opened = round.record({ mode: 'sync' });
    try {
      await store.openRound(opened, this.fence);
    } catch (err) {
      this.live.delete(round.roundId);
      round.close('stopped');
      this.release(live);
      throw err;
    }
    this.deps.onRoundStarted(opened);
    for (const c of cohort) {
      const current = population.byClientId(c.clientId);
      if (current?.activeRound !== round.roundId) {
        // Another node's client hears the round's own start, with the whole model, from its node.
        if (!current) live.bytesDown += start.bytesPerClient;
        continue;
      }
      const download = broadcast ? this.downloads.downloadFor(current.model ?? null, base.version) : null;
      const sent = startFor(start, download);
      current.send('round:start', { ...sent.message, ...round.startFor(c.clientId) });
      live.bytesDown += sent.bytes;
      if (broadcast) current.model = { version: broadcast.version, checksum: broadcast.checksum };
    }
    // The other nodes start the round with their own selected clients.
    this.deps.cluster?.opened(round, start.message, cohort);
    const chosen = new Set(cohort);
    this.skip(
      candidates.filter((c) => !chosen.has(c)),
      round.roundId,
      { population: candidates.length, cohort: cohort.length, roundMs: rounds.deadlineMs },
    );
    this.deps.log.info(
      {
        task: spec.id,
        round: round.roundId,
        selected: cohort.length,
        available: candidates.length,
        rate,
        clamped,
        inFlight: this.live.size,
      },
      'round started',
    );
    void round.closed.then((reason) => {
      if (!this.live.has(round.roundId)) return;
      this.release(live);
      return this.committer.exclusive(() => this.finish(live, reason));
    });
  }

  /** The round closed: its clients are free for other rounds, whatever becomes of it. */
  private release({ round, cohort }: Live): void {
    const { population } = this.deps;
    for (const c of cohort) {
      const current = population.byClientId(c.clientId) ?? c;
      if (current.activeRound === round.roundId) current.activeRound = null;
    }
    population.touch();
  }

  /** Commit or abandon a closed round; runs inside the committer, one round at a time. */
  private async finish(live: Live, reason: CloseReason): Promise<void> {
    const { store, population, log } = this.deps;
    const { round, cohort } = live;
    const { bytesDown } = live;
    const rlog = log.child({ task: this.taskId, round: round.roundId });
    let record: RoundRecord | null = null;
    let why = '';
    const task = await store.getTask(this.taskId);
    try {
      if (!task) throw new Error(`task ${this.taskId} is gone`);
      const { spec } = task;
      if (reason === 'stopped') {
        why = 'coordinator stopped';
      } else if (round.failure !== null) {
        why = `secure aggregation aborted: ${round.failure}`;
      } else if (round.reportedCount < spec.rounds.minReports) {
        why = `${round.reportedCount} of ${spec.rounds.minReports} required reports by ${reason}`;
      } else if (spec.rounds.maxRounds > 0 && task.currentVersion >= spec.rounds.maxRounds) {
        why = `the task committed its ${spec.rounds.maxRounds} rounds`;
      } else {
        const current = await this.committer.current(task);
        const tau = current.version - round.baseVersion;
        const weight = stalenessWeight(tau, spec.strategy.staleness);
        if (weight === 0) {
          why = `its aggregate is ${tau} versions stale, past strategy.staleness.maxStaleness = ${spec.strategy.staleness.maxStaleness}`;
        } else {
          const aggregationStartedAt = performance.now();
          const aggregate = round.aggregate();
          const delta = weight === 1 ? aggregate.delta : scale(weight, aggregate.delta);
          const fraction = round.reportedCount / Math.max(live.populationSize, round.reportedCount);
          record = await this.committer.commit({
            task,
            current,
            delta,
            ...(aggregate.meanControlDelta
              ? { control: { meanDelta: aggregate.meanControlDelta, fraction } }
              : {}),
            privacy: round.privacy,
            clipBitSum: round.clipBitSum,
            participants: cohort.map((c) => c.clientId),
            aggregationStartedAt,
            record: (fields) =>
              round.record({ ...fields, bytesDown, mode: 'sync', staleness: { tau, weight } }),
          });
          this.coordinates.observe(spec, round.roundId, aggregate.delta);
          rlog.info(
            {
              reported: record.reported,
              reason,
              version: record.newVersion,
              tau,
              weight,
              aggregationMs: record.aggregationMs,
              strategy: spec.strategy.name,
              ...(record.privacy ? { epsilon: record.privacy.epsilon } : {}),
              ...(aggregate.kept !== undefined ? { kept: aggregate.kept } : {}),
            },
            'round committed',
          );
        }
      }
    } catch (err) {
      rlog.error({ err }, 'aggregation failed');
      why = `aggregation failed: ${(err as Error).message}`;
    }
    if (!record) {
      record = round.record({
        status: 'abandoned',
        endedAt: Date.now(),
        bytesDown,
        reason: why,
        mode: 'sync',
      });
      await store.abandonRound(record, this.fence);
      rlog.warn({ reported: record.reported, reason: why }, 'round abandoned');
    }
    this.live.delete(round.roundId);
    for (const c of cohort) {
      (population.byClientId(c.clientId) ?? c).send('round:end', {
        taskId: this.taskId,
        roundId: round.roundId,
        status: record.status,
        modelVersion: record.newVersion ?? task?.currentVersion ?? round.baseVersion,
      });
    }
    population.touch();
    this.deps.cluster?.ended({
      taskId: this.taskId,
      roundId: round.roundId,
      status: record.status,
      modelVersion: record.newVersion ?? task?.currentVersion ?? round.baseVersion,
    });
    this.poke();
    this.deps.onRound(record);
  }
}

/** The committed privacy state with the rounds in flight charged as if they committed. */
function withPending(
  task: StoredTask,
  stored: StoredPrivacy | undefined,
  pending: readonly PrivacyPlan[],
): StoredPrivacy | undefined {
  const ledger = loadLedger(task.spec.privacy, stored);
  if (!ledger) return stored;
  for (const plan of pending) ledger.record(plan.samplingRate, plan.noiseMultiplier);
  return {
    version: stored?.version ?? task.currentVersion,
    exhausted: stored?.exhausted ?? null,
    clipNorm: stored?.clipNorm ?? null,
    ledger: ledger.toJSON(),
  };
}
