import { randomInt } from 'node:crypto';
import { encodeDense } from '@pollen/compression';
import {
  createServerStrategy,
  hashSeed,
  poissonCohort,
  type Rng,
  type RoundStartMessage,
  type ServerStrategy,
  seededRng,
  suggestedRetryMs,
} from '@pollen/fl-core';
import type { FastifyBaseLogger } from 'fastify';
import type { TaskModel } from '../ml/evaluator.ts';
import type { RoundRecord, Store, StoredTask } from '../store/types.ts';
import type { Contributor, Population } from './population.ts';
import { budgetExhaustedReason, commitPrivacy, cryptoRng, planPrivacy } from './privacy.ts';
import { Round } from './round.ts';
import { SecAggRound } from './secagg-round.ts';

export interface RunnerDeps {
  readonly store: Store;
  readonly population: Population;
  readonly log: FastifyBaseLogger;
  readonly model: TaskModel;
  /** Called with every round record that closed (committed or abandoned). */
  readonly onRound: (record: RoundRecord) => void;
}

const IDLE_POLL_MS = 1000;

/**
 * Drives one task's rounds, one after another: wait for enough eligible clients, select a
 * cohort, broadcast the global model (and SCAFFOLD's c), collect updates until the target, the
 * last selected client or the deadline, then aggregate them (mean or robust rule), apply the
 * task's server strategy and commit the new version with the strategy's state, or abandon the
 * round.
 */
export class TaskRunner {
  readonly taskId: string;
  private readonly deps: RunnerDeps;
  private readonly rng: Rng = seededRng(randomInt(2 ** 32));
  private stopped = false;
  private current: Round | SecAggRound | null = null;
  private wake: (() => void) | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly onChange = (): void => this.wake?.();
  /** The task's server strategy, in the state of the last committed version. */
  private server: ServerStrategy | null = null;
  private serverKey = '';

  constructor(taskId: string, deps: RunnerDeps) {
    this.taskId = taskId;
    this.deps = deps;
  }

  /** The round in flight, if any. */
  get round(): Round | SecAggRound | null {
    return this.current;
  }

  start(): void {
    this.deps.population.on('change', this.onChange);
    this.loopDone = this.loop();
  }

  /** Stop selecting; a round in flight is abandoned. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.deps.population.off('change', this.onChange);
    this.current?.close('stopped');
    this.wake?.();
    await this.loopDone;
  }

  /** Re-check the task now (after a status change, say). */
  poke(): void {
    this.wake?.();
  }

  private waitForChange(ms: number): Promise<void> {
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
    const { store, population, log } = this.deps;
    while (!this.stopped) {
      const task = await store.getTask(this.taskId);
      if (task?.status !== 'running') {
        await this.waitForChange(IDLE_POLL_MS);
        continue;
      }
      const { maxRounds, minClients } = task.spec.rounds;
      if (maxRounds > 0 && task.currentVersion >= maxRounds) {
        await store.setTaskStatus(this.taskId, 'completed');
        log.info({ task: this.taskId, version: task.currentVersion }, 'task completed');
        continue;
      }
      const candidates = population.available(this.taskId);
      if (candidates.length < minClients) {
        await this.waitForChange(IDLE_POLL_MS);
        continue;
      }
      if (await this.budgetSpent(task, candidates.length)) continue;
      try {
        await this.runRound(task, candidates);
      } catch (err) {
        log.error({ err, task: this.taskId }, 'round failed');
        await this.waitForChange(IDLE_POLL_MS);
      }
    }
  }

  /**
   * Before selecting: stop the task with status 'budget-exhausted' when one more round, at the
   * largest q its cohort could be charged, would take its epsilon past the budget.
   */
  private async budgetSpent(task: StoredTask, eligible: number): Promise<boolean> {
    const { store, log } = this.deps;
    const reason = budgetExhaustedReason(task.spec, await store.getPrivacy(task.spec.id), eligible);
    if (reason === null) return false;
    await store.exhaustBudget(task.spec.id, reason);
    log.warn({ task: task.spec.id, reason }, 'privacy budget exhausted; no more rounds');
    return true;
  }

  /**
   * The task's server strategy: built on first use from the state committed with the current
   * version (so a restart resumes FedAdam's moments and SCAFFOLD's c exactly), and rebuilt the
   * same way when an operator changed the task's strategy config. A state that no longer fits
   * (another optimizer, SCAFFOLD switched) is dropped and the strategy starts afresh.
   */
  private async serverFor(task: StoredTask, dimension: number): Promise<ServerStrategy> {
    const { spec } = task;
    const key = JSON.stringify(spec.strategy);
    if (this.server && key === this.serverKey && this.server.dimension === dimension) return this.server;
    const log = this.deps.log.child({ task: spec.id });
    const server = createServerStrategy(spec.strategy, dimension);
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

  private async runRound(task: StoredTask, candidates: Contributor[]): Promise<void> {
    const { store, population, model } = this.deps;
    const { spec } = task;
    const { strategy } = spec;
    const base = await store.getVersion(spec.id, task.currentVersion);
    if (!base) throw new Error(`version ${task.currentVersion} of ${spec.id} is missing`);
    const server = await this.serverFor(task, base.weights.length);
    // SCAFFOLD's N in c += (|S| / N) * mean Delta c_i: the task's clients connected now.
    const populationSize = population.counts(spec.id).total;
    const { rounds } = spec;
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
      await store.getPrivacy(spec.id),
      { rate, clamped },
      cohort.length,
      candidates.length,
      base.weights.length,
    );
    const roundOptions = {
      taskId: spec.id,
      roundId: await store.nextRoundId(spec.id),
      baseVersion: base.version,
      dimension: base.weights.length,
      selected: cohort.map((c) => c.clientId),
      target: spec.rounds.cohortSize,
      deadlineMs: spec.rounds.deadlineMs,
      scaffold: strategy.scaffold,
      privacy,
    };
    // Secure aggregation: the same surface, the SecAgg+ stages inside (secagg-round.ts).
    const round = spec.secureAggregation
      ? new SecAggRound({
          ...roundOptions,
          minReports: spec.rounds.minReports,
          settings: spec.secureAggregation,
          log: this.deps.log.child({ task: spec.id, secagg: true }),
          send: (clientId, event, payload) => population.byClientId(clientId)?.send(event, payload),
        })
      : new Round({ ...roundOptions, robust: strategy.robust });
    const log = this.deps.log.child({ task: spec.id, round: round.roundId });
    round.sampling = { eligible: candidates.length, sampling: { rate, clamped } };
    await store.openRound(round.record());
    this.current = round;

    const meta = { round: round.roundId, taskTag: hashSeed(spec.id) };
    const weights = encodeDense(base.weights, spec.codec, meta);
    const c = server.control();
    const control = c ? encodeDense(c, spec.codec, meta) : null;
    const start: RoundStartMessage = {
      taskId: spec.id,
      roundId: round.roundId,
      modelVersion: base.version,
      deadline: round.deadline,
      training: spec.training,
      codec: spec.codec,
      weights,
      strategy: { proximalMu: strategy.mu, scaffold: strategy.scaffold },
      ...(control ? { control } : {}),
      ...(privacy ? { privacy: privacy.message } : {}),
    };
    for (const c of cohort) {
      c.activeRound = round.roundId;
      c.send(
        'round:start',
        round instanceof SecAggRound ? { ...start, secagg: round.startFor(c.clientId) } : start,
      );
    }
    population.touch();
    // Pace steering: everyone left out hears when it is worth checking in again.
    const chosen = new Set(cohort);
    for (const c of candidates) {
      if (chosen.has(c)) continue;
      const retryAfterMs = suggestedRetryMs(
        {
          populationSize: candidates.length,
          cohortSize: Math.max(1, cohort.length),
          roundMs: rounds.deadlineMs,
          minMs: 1000,
          maxMs: 3_600_000,
        },
        this.rng,
      );
      c.send('round:skipped', { taskId: spec.id, roundId: round.roundId, retryAfterMs });
    }
    log.info({ selected: cohort.length, available: candidates.length, rate, clamped }, 'round started');

    const reason = await round.closed;
    this.current = null;
    for (const c of cohort) {
      const live = population.byClientId(c.clientId) ?? c;
      if (live.activeRound === round.roundId) live.activeRound = null;
    }

    const bytesDown = (weights.byteLength + (control?.byteLength ?? 0)) * cohort.length;
    const endedAt = Date.now();
    let record: RoundRecord | null = null;
    let why = '';
    if (reason !== 'stopped' && round.reportedCount >= spec.rounds.minReports) {
      const before = server.state();
      try {
        const aggregate = round.aggregate();
        const fraction = round.reportedCount / Math.max(populationSize, round.reportedCount);
        const next = server.apply(
          base.weights,
          aggregate.delta,
          aggregate.meanControlDelta ? { meanDelta: aggregate.meanControlDelta, fraction } : undefined,
        );
        const evaluation = await model.evaluate(next);
        // The ledger and the adaptive clip norm commit with the version they paid for.
        const spent = privacy
          ? commitPrivacy(spec, await store.getPrivacy(spec.id), privacy, round.clipBitSum, cryptoRng())
          : null;
        const committed = round.record({
          status: 'committed',
          newVersion: base.version + 1,
          endedAt,
          bytesDown,
          accuracy: evaluation.accuracy,
          loss: evaluation.loss,
          ...(spent ? { privacy: spent.record } : {}),
        });
        // The strategy's new state commits with the version it produced, or neither does.
        await store.commitRound(committed, next, { config: strategy, state: server.state() }, spent?.state);
        record = committed;
        log.info(
          {
            reported: record.reported,
            reason,
            accuracy: evaluation.accuracy,
            version: record.newVersion,
            strategy: strategy.name,
            ...(spent ? { epsilon: spent.record.epsilon, clipNorm: spent.state.clipNorm } : {}),
            ...(aggregate.kept !== undefined ? { kept: aggregate.kept } : {}),
          },
          'round committed',
        );
      } catch (err) {
        // Back to the last committed state, so the failed step is never half-applied.
        server.restore(before);
        log.error({ err }, 'aggregation failed');
        why = `aggregation failed: ${(err as Error).message}`;
      }
    } else {
      why =
        round instanceof SecAggRound && round.failure !== null
          ? `secure aggregation aborted: ${round.failure}`
          : reason === 'stopped'
            ? 'coordinator stopped'
            : `${round.reportedCount} of ${spec.rounds.minReports} required reports by ${reason}`;
    }
    if (!record) {
      record = round.record({ status: 'abandoned', endedAt, bytesDown, reason: why });
      await store.abandonRound(record);
      log.warn({ reported: record.reported, reason }, 'round abandoned');
    }
    for (const c of cohort) {
      (population.byClientId(c.clientId) ?? c).send('round:end', {
        taskId: spec.id,
        roundId: round.roundId,
        status: record.status,
        modelVersion: record.newVersion ?? base.version,
      });
    }
    population.touch();
    this.deps.onRound(record);
  }
}
