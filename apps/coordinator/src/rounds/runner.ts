import { randomInt } from 'node:crypto';
import {
  type FrozenBaseRef,
  type Rng,
  type RoundModelReply,
  seededRng,
  suggestedRetryMs,
} from '@pollen/fl-core';
import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../clock.ts';
import type { RetentionPolicy } from '../store/retention.ts';
import type { EvaluationRecord, Fence, RoundRecord, Store, StoredTask } from '../store/types.ts';
import { BroadcastModels } from './broadcast.ts';
import type { ClusterPort } from './cluster-port.ts';
import { Committer } from './commit.ts';
import { type Evaluator, type VersionEvaluated, VersionEvaluations } from './evaluations.ts';
import { FederatedEvaluation } from './federated-evaluation.ts';
import type { DrivenRound, RoundHandle } from './handle.ts';
import type { Contributor, Population } from './population.ts';

/** A node's share of a round another node drives: its own clients' sums, or a secure round's relay. */
export type RoundShare = RoundHandle;

export interface RunnerDeps {
  readonly store: Store;
  readonly population: Population;
  readonly log: FastifyBaseLogger;
  /** Scores committed versions on the task's held-out data, after their commit. */
  readonly evaluator: Evaluator;
  /** Called with every round record that closed (committed or abandoned). */
  readonly onRound: (record: RoundRecord) => void;
  /** Called when a committed version's held-out metrics are attached. */
  readonly onEvaluated: (evaluated: VersionEvaluated) => void;
  /** Called for each version whose evaluation was skipped for a newer one. */
  readonly onEvaluationSkipped: (taskId: string, version: number) => void;
  /** Which versions' weights commits keep (docs/operating.md, "Retention"). */
  readonly retention: RetentionPolicy;
  /** Versions something outside the runner still reads (an export in progress). */
  readonly pinned: (taskId: string) => readonly number[];
  /** Called with the record of every round as it opens. */
  readonly onRoundStarted: (record: RoundRecord) => void;
  /** Called with an evaluation round's record as it opens and as it closes (federated-evaluation.ts). */
  readonly onEvaluationRound: (record: EvaluationRecord) => void;
  /** In a cluster: the round lease, selection across nodes, and the other nodes' shares. */
  readonly cluster?: ClusterPort;
  /** Where rounds' deadlines and SecAgg+'s stage timers take their time from. */
  readonly clock: Clock;
  /** A fine-tuning task's frozen base, named in every round start (null: the task trains every weight). */
  readonly base: FrozenBaseRef | null;
}

const IDLE_POLL_MS = 1000;
/** How often a node without a task's lease checks whether it is free (its holder died). */
const LEASE_POLL_MS = 500;

/**
 * What the task service and the gateway ask of a task's scheduler, whichever mode it runs: synchronous rounds
 * (`SyncRunner`, possibly several in flight) or FedBuff's buffered mode (`BufferedRunner`).
 */
export interface TaskRunner {
  readonly taskId: string;
  /** The task's federated evaluation rounds (federated-evaluation.ts). */
  readonly federated: FederatedEvaluation;
  start(): void;
  /** Stop selecting; rounds in flight are abandoned; resolves once their records are written. */
  stop(): Promise<void>;
  /** Re-check the task now (after a status change, say). */
  poke(): void;
  /** Ids of the rounds collecting updates now, oldest first. */
  openRoundIds(): number[];
  /** The records of the rounds collecting updates now, as they stand. */
  openRecords(): RoundRecord[];
  /**
   * The round a message of `clientId` for `roundId` goes to; undefined: ROUND_CLOSED. Throws
   * when the runner already knows the message is refused (a replay, a client holding no model).
   */
  target(clientId: string, roundId: number): RoundHandle | undefined;
  /** A client left round `roundId` (withdrew, vanished past its grace, became ineligible). */
  drop(clientId: string, roundId: number): void;
  /** Abandon every round in flight (the operator stopped the task). */
  stopRounds(): void;
  /**
   * A client that came back within its grace period: put it back in round `roundId` if that is
   * still open and it has not reported, and send it the round's start again (what it was sent
   * may have been lost with its connection). Returns whether it was put back.
   */
  resume(contributor: Contributor, roundId: number): boolean;
  /**
   * `round:model`: the whole model of round `roundId` for a client of it whose rebuilt model
   * did not check out (compressed downloads); once per client and round.
   */
  roundModel(contributor: Contributor, roundId: number): RoundModelReply;
  /**
   * In a cluster: this node's share of a round another node drives becomes a round here, so
   * its clients' updates reach it; refused (false) for a round this runner drives itself.
   */
  follow(round: RoundShare): boolean;
  /** The share closed: forget it. */
  unfollow(round: RoundShare): void;
  /** The open round `roundId` this runner drives (the lease holder folds partials into it). */
  driven(roundId: number): DrivenRound | undefined;
}

/**
 * The machinery both schedulers share: the loop that sleeps until the population or the task
 * changes, the committer (server strategy and ordered commits), a random source, and pace
 * steering for clients that were not selected.
 */
export abstract class RunnerBase {
  readonly taskId: string;
  protected readonly deps: RunnerDeps;
  protected readonly committer: Committer;
  /** Held-out evaluation of the versions this runner commits, after their commits. */
  protected readonly evaluations: VersionEvaluations;
  /** The task's federated evaluation rounds on idle devices (task `evaluation.federated`). */
  readonly federated: FederatedEvaluation;
  protected readonly rng: Rng = seededRng(randomInt(2 ** 32));
  protected stopped = false;
  private wake: (() => void) | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly onChange = (): void => {
    this.wake?.();
    this.federated.poke();
  };
  /**
   * The next round id: read from the store once, then counted here (one runner per task; in a
   * cluster, read again each time this node takes the task's lease).
   */
  private nextId: number | null = null;
  /** In a cluster, the fence of the lease this node holds for the task; every round write carries it. */
  protected fence: Fence | undefined;
  /** In a cluster, this node's shares of rounds another node drives, by round id. */
  protected readonly shares = new Map<number, RoundShare>();
  /** Compressed downloads: the broadcast models devices hold and the deltas between them. */
  protected readonly downloads = new BroadcastModels();

  constructor(taskId: string, deps: RunnerDeps) {
    this.taskId = taskId;
    this.deps = deps;
    this.evaluations = new VersionEvaluations(taskId, {
      store: deps.store,
      evaluator: deps.evaluator,
      log: deps.log,
      onEvaluated: deps.onEvaluated,
      onSkipped: deps.onEvaluationSkipped,
    });
    this.federated = new FederatedEvaluation(taskId, {
      store: deps.store,
      population: deps.population,
      log: deps.log,
      clock: deps.clock,
      rng: this.rng,
      onRecord: deps.onEvaluationRound,
      fence: () => this.fence,
      leading: () => !deps.cluster || this.fence !== undefined,
    });
    this.committer = new Committer(taskId, {
      store: deps.store,
      log: deps.log,
      evaluations: this.evaluations,
      committed: (spec, version, weights) => {
        this.downloads.committed(spec, version, weights);
        this.federated.committed(spec, version, weights);
      },
      fence: () => this.fence,
      retention: () => ({
        ...deps.retention,
        protect: [...this.inUse(), ...deps.pinned(taskId)],
      }),
    });
  }

  /** Versions the rounds in flight were built on or handed out: retention never prunes them. */
  protected abstract inUse(): number[];

  /**
   * A version committed and never evaluated (the process stopped first) is evaluated now, if it
   * is the current one; older ones keep null metrics, as skipped ones do.
   */
  private async evaluateCurrent(task: StoredTask): Promise<void> {
    const current = await this.deps.store.getVersion(this.taskId, task.currentVersion);
    if (current && current.metrics === null) this.evaluations.submit(current.version, current.weights);
  }

  follow(round: RoundShare): boolean {
    if (this.driven(round.roundId)) return false;
    this.shares.set(round.roundId, round);
    return true;
  }

  unfollow(round: RoundShare): void {
    if (this.shares.get(round.roundId) === round) this.shares.delete(round.roundId);
  }

  abstract driven(roundId: number): DrivenRound | undefined;

  /**
   * In a cluster: whether this node holds the task's round lease, taking it when it is free.
   * Just taken, it closes what the previous holder left open, under the new fence, before any
   * round of its own, re-reads the round ids and the strategy's state (the previous holder
   * moved them on), and drops the shares it was following of the old holder's rounds.
   */
  private async holdLease(): Promise<boolean> {
    const lease = await this.deps.cluster!.acquire(this.taskId);
    this.fence = lease?.fence;
    if (!lease) return false;
    if (lease.fresh) {
      for (const share of this.shares.values()) share.close('stopped');
      this.nextId = null;
      this.committer.forget();
      const abandoned = await this.deps.store.abandonOpenRounds('the previous lease holder left', {
        taskId: this.taskId,
        fence: lease.fence,
      });
      const evaluations = await this.deps.store.abandonOpenEvaluations('the previous lease holder left', {
        taskId: this.taskId,
      });
      this.deps.log.info(
        { task: this.taskId, token: lease.fence.token, abandoned, evaluations },
        'took the round lease',
      );
      const task = await this.deps.store.getTask(this.taskId);
      if (task) {
        await this.evaluateCurrent(task);
        await this.federated.resume(task);
      }
    }
    return true;
  }

  start(): void {
    this.deps.population.on('change', this.onChange);
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.deps.population.off('change', this.onChange);
    this.stopRounds();
    this.wake?.();
    await this.loopDone;
    await this.committer.idle();
    await this.federated.stop();
    await this.evaluations.stop();
  }

  poke(): void {
    this.wake?.();
  }

  abstract stopRounds(): void;

  /** One pass of the scheduler: returns once it has nothing to do until something changes. */
  protected abstract step(task: StoredTask): Promise<void> | void;

  protected waitForChange(ms = IDLE_POLL_MS): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  private async loop(): Promise<void> {
    const { store, log } = this.deps;
    // One process on its own evaluates what its last run left unevaluated; in a cluster the
    // node that takes the task's lease does (holdLease).
    if (!this.deps.cluster) {
      const task = await store.getTask(this.taskId);
      if (task) {
        await this.evaluateCurrent(task).catch((err: unknown) =>
          log.error({ err }, 'evaluation on start failed'),
        );
        await this.federated
          .resume(task)
          .catch((err: unknown) => log.error({ err }, 'evaluation round on start failed'));
      }
    }
    while (!this.stopped) {
      const task = await store.getTask(this.taskId);
      if (!task) {
        await this.waitForChange();
        continue;
      }
      try {
        if (this.deps.cluster && !(await this.holdLease())) {
          await this.waitForChange(LEASE_POLL_MS);
          continue;
        }
        await this.step(task);
      } catch (err) {
        log.error({ err, task: this.taskId }, 'round scheduling failed');
        await this.waitForChange();
      }
    }
  }

  /** A fresh round id, known before the round's record is written. */
  protected async roundId(): Promise<number> {
    this.nextId ??= await this.deps.store.nextRoundId(this.taskId);
    return this.nextId++;
  }

  /** Mark a task that committed its `rounds.maxRounds` versions completed. */
  protected async complete(task: StoredTask): Promise<void> {
    await this.deps.store.setTaskStatus(this.taskId, 'completed');
    this.deps.log.info({ task: this.taskId, version: task.currentVersion }, 'task completed');
  }

  /**
   * Pace steering: a client left out hears when it is worth checking in again, spread so that
   * a large population does not come back at once.
   */
  protected skip(
    left: readonly Contributor[],
    roundId: number,
    sizes: { readonly population: number; readonly cohort: number; readonly roundMs: number },
  ): void {
    for (const c of left) {
      const retryAfterMs = suggestedRetryMs(
        {
          populationSize: sizes.population,
          cohortSize: Math.max(1, sizes.cohort),
          roundMs: sizes.roundMs,
          minMs: 1000,
          maxMs: 3_600_000,
        },
        this.rng,
      );
      c.send('round:skipped', { taskId: this.taskId, roundId, retryAfterMs });
    }
  }
}
