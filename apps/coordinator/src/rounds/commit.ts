import { performance } from 'node:perf_hooks';
import { createServerStrategy, type ServerStrategy, type TaskSpec } from '@pollen/fl-core';
import type { FastifyBaseLogger } from 'fastify';
import type { RetentionPlan } from '../store/retention.ts';
import type { Fence, ModelVersion, RoundRecord, Store, StoredTask } from '../store/types.ts';
import type { VersionEvaluations } from './evaluations.ts';
import { ftrlRoundSum, ftrlServerStrategy } from './ftrl.ts';
import { commitPrivacy, cryptoRng, type PrivacyPlan } from './privacy.ts';

/** What a closed round (or a full buffer) hands over to be applied and committed. */
export interface CommitInput {
  readonly task: StoredTask;
  /** The model as last committed: the aggregate is applied onto it. */
  readonly current: ModelVersion;
  /** The aggregated delta, already weighted by its staleness. */
  readonly delta: Float32Array;
  /** SCAFFOLD: the mean Delta c_i and the fraction |S| / N of the population that sent one. */
  readonly control?: { readonly meanDelta: Float32Array; readonly fraction: number };
  readonly privacy: PrivacyPlan | null;
  readonly clipBitSum: number;
  /** The clients selected for the round: DP-FTRL's participation record counts them. */
  readonly participants?: readonly string[];
  /** performance.now() when aggregation began: the record's aggregationMs runs from there. */
  readonly aggregationStartedAt: number;
  /** The round's record with these fields set. */
  readonly record: (fields: Partial<RoundRecord>) => RoundRecord;
}

/**
 * A task's server side: its strategy, in the state of the last committed version, and the one
 * place a new version is made. Commits run one at a time, in the order they are asked for, so
 * version numbers are assigned at commit, strictly in order, whichever round closed first.
 */
export class Committer {
  private server: ServerStrategy | null = null;
  private serverKey = '';
  private queue: Promise<void> = Promise.resolve();
  /** The version this committer committed last, weights included: the next round starts from it without a store read. */
  private latest: ModelVersion | null = null;

  constructor(
    private readonly taskId: string,
    private readonly deps: {
      readonly store: Store;
      /** Where a committed version goes to be evaluated, after the commit. */
      readonly evaluations: VersionEvaluations;
      /** Told of every committed version after its commit (federated evaluation rounds). */
      readonly committed?: (spec: TaskSpec, version: number, weights: Float32Array) => void;
      readonly log: FastifyBaseLogger;
      /** In a cluster, the fence of the round lease this node holds: commits carry it. */
      readonly fence?: () => Fence | undefined;
      /** Which versions' weights the commit may prune, and which it must keep (retention.ts). */
      readonly retention?: () => RetentionPlan;
    },
  ) {}

  /** Drop the strategy held in memory: another node committed since (a cluster's lease moved). */
  forget(): void {
    this.server = null;
    this.latest = null;
  }

  /**
   * The task's current version: the one this committer committed last when it still is (no
   * store read of d floats on the way from a commit to the next round), else the store's.
   */
  async current(task: StoredTask): Promise<ModelVersion> {
    if (this.latest?.version === task.currentVersion) return this.latest;
    const stored = await this.deps.store.getVersion(task.spec.id, task.currentVersion);
    if (!stored) throw new Error(`version ${task.currentVersion} of ${task.spec.id} is missing`);
    return stored;
  }

  /**
   * Run `fn` after every commit asked for before it has finished; its failure is logged, never
   * passed on to the next one.
   */
  exclusive(fn: () => Promise<void>): Promise<void> {
    const next = this.queue.then(fn).catch((err: unknown) => {
      this.deps.log.error({ err, task: this.taskId }, 'round close failed');
    });
    this.queue = next;
    return next;
  }

  /** Resolves once every commit asked for so far has finished. */
  idle(): Promise<void> {
    return this.queue;
  }

  /**
   * The task's server strategy: built on first use from the state committed with the current
   * version (so a restart resumes FedAdam's moments and SCAFFOLD's c exactly), and rebuilt the
   * same way when an operator changed the task's strategy config. A state that no longer fits
   * (another optimizer, SCAFFOLD switched) is dropped and the strategy starts afresh.
   */
  async serverFor(task: StoredTask, dimension: number): Promise<ServerStrategy> {
    const { spec } = task;
    // Under DP-FTRL the privacy settings are part of the server step (the tree's noise).
    const ftrl = spec.privacy.mode === 'ftrl';
    const key = JSON.stringify(ftrl ? [spec.strategy, spec.privacy, spec.rounds.cohortSize] : spec.strategy);
    if (this.server && key === this.serverKey && this.server.dimension === dimension) return this.server;
    const log = this.deps.log.child({ task: spec.id });
    const server = ftrl
      ? ftrlServerStrategy(spec, dimension, cryptoRng())
      : createServerStrategy(spec.strategy, dimension);
    const saved = await this.deps.store.getStrategyState(spec.id);
    if (
      saved &&
      saved.config.name === spec.strategy.name &&
      saved.config.scaffold === spec.strategy.scaffold
    ) {
      try {
        server.restore(saved.state);
        if (saved.version !== task.currentVersion) {
          log.warn({ stateVersion: saved.version, version: task.currentVersion }, 'strategy state is older');
        }
      } catch (err) {
        log.warn({ err }, 'stored strategy state does not fit the task; starting it afresh');
      }
    } else if (saved) {
      log.warn({ from: saved.config.name, to: spec.strategy.name }, 'strategy changed; starting it afresh');
    }
    this.server = server;
    this.serverKey = key;
    return server;
  }

  /**
   * Apply an aggregate with the task's server strategy onto the current model, charge the
   * privacy ledger, and commit the new version, its round record, the strategy's state and the
   * ledger in one transaction, pruning the versions retention drops in it. On any failure the
   * strategy goes back to its last committed state, so a failed step is never half-applied.
   * The held-out evaluation is not waited for: the version is handed to the task's evaluations,
   * which attach its metrics when they finish (docs/design.md, "Evaluation off the commit path").
   * Call it inside `exclusive`.
   */
  async commit(input: CommitInput): Promise<RoundRecord> {
    const { store, evaluations } = this.deps;
    const { task, current } = input;
    const { spec } = task;
    const server = await this.serverFor(task, current.weights.length);
    const before = server.state();
    try {
      const step =
        spec.privacy.mode === 'ftrl' && input.privacy
          ? ftrlRoundSum(input.delta, input.privacy.expectedReports)
          : input.delta;
      const next = server.apply(current.weights, step, input.control);
      const aggregationMs = performance.now() - input.aggregationStartedAt;
      // The ledger and the adaptive clip norm commit with the version they paid for.
      const spent = input.privacy
        ? commitPrivacy(
            spec,
            await store.getPrivacy(spec.id),
            input.privacy,
            input.clipBitSum,
            cryptoRng(),
            input.participants,
          )
        : null;
      const record = input.record({
        status: 'committed',
        newVersion: current.version + 1,
        endedAt: Date.now(),
        metrics: null,
        aggregationMs: round3(aggregationMs),
        ...(spent ? { privacy: spent.record } : {}),
      });
      // The strategy's new state commits with the version it produced, or neither does.
      const pruned = await store.commitRound(
        record,
        next,
        { config: spec.strategy, state: server.state() },
        spent?.state,
        this.deps.fence?.(),
        this.deps.retention?.(),
      );
      this.latest = {
        taskId: spec.id,
        version: record.newVersion!,
        roundId: record.roundId,
        createdAt: record.endedAt ?? Date.now(),
        weights: next,
        metrics: null,
      };
      if (pruned.length > 0)
        this.deps.log.info({ task: spec.id, pruned }, 'pruned the weights of old versions');
      evaluations.submit(record.newVersion!, next);
      this.deps.committed?.(spec, record.newVersion!, next);
      return record;
    } catch (err) {
      server.restore(before);
      throw err;
    }
  }
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
