import { EventEmitter } from 'node:events';
import { PollenError, type PollenErrorCode, type TaskSpec } from '@pollen/fl-core';
import { type ExportForm, type SavedModel, trainableOf, withoutInitialWeights } from '@pollen/ml';
import type { FastifyBaseLogger } from 'fastify';
import { type Clock, systemClock } from '../clock.ts';
import { TaskModel } from '../ml/evaluator.ts';
import { HeldOutSource } from '../ml/held-out-source.ts';
import { DEFAULT_RETENTION, type RetentionPolicy } from '../store/retention.ts';
import type { EvaluationRecord, RoundRecord, Store, StoredTask } from '../store/types.ts';
import type { ClusterPort } from './cluster-port.ts';
import { createRunner } from './create-runner.ts';
import type { Evaluator, VersionEvaluated } from './evaluations.ts';
import { Population } from './population.ts';
import type { TaskRunner } from './runner.ts';
import { VersionPins } from './version-pins.ts';

/** What the task service is set up with beyond its store, log and clock. */
export interface EngineOptions {
  /** Which versions' weights commits keep (default DEFAULT_RETENTION). */
  readonly retention?: RetentionPolicy;
  /**
   * What evaluates a task's committed versions: the task's model by default. Tests pass one
   * they control (an evaluation that resolves when the test says).
   */
  readonly evaluator?: (spec: TaskSpec, model: TaskModel) => Evaluator;
  /** Held-out examples each version is scored on at most (ml/held-out-sample.ts; 0: all). */
  readonly evaluationSample?: number;
  /** Bytes of uploads contributors may send at once (upload-slots.ts; default 64 MiB). */
  readonly uploadBudgetBytes?: number;
}

/** What the coordinator's tasks tell the rest of the process: metrics, the operator feed, the transport. */
export type TaskEvents = {
  round: [RoundRecord];
  roundStarted: [RoundRecord];
  /** A federated evaluation round opened or closed (its record, as written). */
  evaluationRound: [EvaluationRecord];
  /** A committed version's held-out metrics were attached (after its commit). */
  evaluated: [VersionEvaluated];
  /** A committed version's evaluation was skipped for a newer version. */
  evaluationSkipped: [{ readonly taskId: string; readonly version: number }];
  /** The contributor gateway refused a message with this code. */
  rejected: [PollenErrorCode];
  /** A task runs here now, or its settings changed: the transport's message limit may need to grow. */
  taskStarted: [StoredTask];
};

/**
 * The coordinator's tasks: create, configure and control them, run one runner per task, and
 * keep each task's model (docs/design.md, "Rounds in the coordinator"). The contributor
 * protocol is served by the gateway (gateway.ts) over the population and runners kept here.
 */
export class TaskService extends EventEmitter<TaskEvents> {
  readonly population = new Population();
  /** Versions an export in progress needs: retention keeps them. */
  readonly pins: VersionPins;
  private readonly runners = new Map<string, TaskRunner>();
  private readonly models = new Map<string, TaskModel>();
  private readonly starting = new Map<string, Promise<void>>();
  /** Where held-out examples come from: uploads in the store, else built-in data. */
  readonly heldOut: HeldOutSource;
  /** In a cluster, the port runners use; set by `useCluster` before `start`. */
  private cluster: ClusterPort | undefined;

  constructor(
    readonly store: Store,
    private readonly log: FastifyBaseLogger,
    /** Where the reconnect grace, rounds' deadlines and SecAgg+'s stage timers take their time from. */
    private readonly clock: Clock = systemClock,
    private readonly options: EngineOptions = {},
  ) {
    super();
    this.heldOut = new HeldOutSource(store);
    this.pins = new VersionPins(clock);
  }

  /** Run as one node of several: rounds need the task's lease, cohorts span every node. */
  useCluster(cluster: ClusterPort): void {
    this.cluster = cluster;
  }

  /** The tasks running here. */
  taskIds(): string[] {
    return [...this.runners.keys()];
  }

  /**
   * Resume every stored task: rounds a crash left open are abandoned, never half-applied. In a
   * cluster the other nodes' rounds are not this node's to close: the next lease holder of each
   * task closes what its predecessor left, under its fence.
   */
  async start(): Promise<void> {
    const abandoned = this.cluster ? 0 : await this.store.abandonOpenRounds('coordinator restarted');
    if (abandoned > 0) this.log.warn({ abandoned }, 'abandoned rounds left open by the last run');
    const evaluations = this.cluster ? 0 : await this.store.abandonOpenEvaluations('coordinator restarted');
    if (evaluations > 0)
      this.log.warn({ evaluations }, 'abandoned evaluation rounds left open by the last run');
    for (const task of await this.store.listTasks()) await this.startRunner(task);
  }

  /** Create a task: build its model, evaluate the initial weights, store version 0, start it. */
  async createTask(spec: TaskSpec): Promise<StoredTask> {
    if (await this.store.getTask(spec.id))
      throw new PollenError('INVALID_TASK', `task "${spec.id}" already exists`);
    if (this.cluster && spec.rounds.mode === 'buffered') {
      throw new PollenError(
        'INVALID_TASK',
        'rounds.mode "buffered" does not run on several coordinators yet: use synchronous rounds',
      );
    }
    const model = await TaskModel.create(spec, this.heldOut.lookup, this.modelOptions());
    const initial = await model.initialWeights();
    const evaluation = await model.evaluate(initial);
    // Initial weights become version 0 (the round's vector: every weight, or what a fine-tuning
    // task trains); the stored spec keeps the topology only (docs/tasks.md), unless the task
    // fine-tunes: its initial weights hold the frozen base, rebuilt from them after a restart.
    const stored =
      model.trainable.kind === 'all' ? { ...spec, model: withoutInitialWeights(spec.model) } : spec;
    const task = await this.store.createTask(stored, model.layout(), initial, evaluation);
    this.models.set(spec.id, model);
    await this.startRunner(task);
    return task;
  }

  private modelOptions(): { sample?: number } {
    const { evaluationSample } = this.options;
    return evaluationSample === undefined ? {} : { sample: evaluationSample };
  }

  /**
   * Run a stored task this node has no runner for yet: in a cluster, one another node
   * created (its clients may connect here). Concurrent calls start one runner.
   */
  ensureRunner(task: StoredTask): Promise<void> {
    if (this.runners.has(task.spec.id)) return Promise.resolve();
    let starting = this.starting.get(task.spec.id);
    if (!starting) {
      starting = this.startRunner(task).finally(() => this.starting.delete(task.spec.id));
      this.starting.set(task.spec.id, starting);
    }
    return starting;
  }

  private async startRunner(task: StoredTask): Promise<void> {
    let model = this.models.get(task.spec.id);
    if (!model) {
      model = await TaskModel.create(task.spec, this.heldOut.lookup, this.modelOptions());
      this.models.set(task.spec.id, model);
    }
    const base = await model.frozenBase();
    const runner = createRunner(task, {
      store: this.store,
      base: base && { checksum: base.checksum, bytes: base.frame.byteLength },
      population: this.population,
      log: this.log,
      evaluator: this.options.evaluator?.(task.spec, model) ?? model,
      retention: this.options.retention ?? DEFAULT_RETENTION,
      pinned: (taskId) => this.pins.pinned(taskId),
      clock: this.clock,
      onRound: (record) => this.emit('round', record),
      onRoundStarted: (record) => this.emit('roundStarted', record),
      onEvaluationRound: (record) => this.emit('evaluationRound', record),
      onEvaluated: (evaluated) => this.emit('evaluated', evaluated),
      onEvaluationSkipped: (taskId, version) => this.emit('evaluationSkipped', { taskId, version }),
      ...(this.cluster ? { cluster: this.cluster } : {}),
    });
    this.runners.set(task.spec.id, runner);
    this.emit('taskStarted', task);
    runner.start();
  }

  /**
   * Operator control. `running` resumes selection; `paused` lets a round in flight finish
   * and selects no more; `stopped` abandons the round in flight. A completed task stays
   * completed.
   */
  async setStatus(taskId: string, status: 'running' | 'paused' | 'stopped'): Promise<StoredTask> {
    const task = await this.store.getTask(taskId);
    if (!task) throw new PollenError('UNKNOWN_TASK', `no task "${taskId}"`);
    if (task.status === 'completed' && status === 'running') {
      throw new PollenError(
        'TASK_NOT_RUNNING',
        `task "${taskId}" completed its ${task.spec.rounds.maxRounds} rounds`,
      );
    }
    if (task.status === 'budget-exhausted' && status === 'running') {
      const why = (await this.store.getPrivacy(taskId))?.exhausted ?? 'its privacy budget is spent';
      throw new PollenError('TASK_NOT_RUNNING', `task "${taskId}" stopped on its privacy budget: ${why}`);
    }
    await this.store.setTaskStatus(taskId, status);
    const runner = this.runners.get(taskId);
    if (status === 'stopped') runner?.stopRounds();
    runner?.poke();
    this.log.info({ task: taskId, status }, 'task status changed by operator');
    return (await this.store.getTask(taskId))!;
  }

  /** Change a task's training and round settings; the model and the data stay as they are. */
  async configure(taskId: string, spec: TaskSpec): Promise<StoredTask> {
    const task = await this.store.getTask(taskId);
    if (!task) throw new PollenError('UNKNOWN_TASK', `no task "${taskId}"`);
    if (spec.id !== taskId) throw new PollenError('INVALID_TASK', 'a task id cannot change');
    const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
    if (!same([spec.model, spec.input, spec.target], [task.spec.model, task.spec.input, task.spec.target])) {
      throw new PollenError('INVALID_TASK', "a task's model cannot change; create a new task");
    }
    if (!same(spec.data, task.spec.data)) {
      throw new PollenError(
        'INVALID_TASK',
        "a task's demo data and its partition cannot change; create a new task",
      );
    }
    if (!same(spec.training.trainable ?? null, task.spec.training.trainable ?? null)) {
      throw new PollenError(
        'INVALID_TASK',
        "a task's training.trainable cannot change (its versions hold what it trains); create a new task",
      );
    }
    if (spec.rounds.mode !== task.spec.rounds.mode) {
      throw new PollenError(
        'INVALID_TASK',
        `a task's rounds.mode cannot change (it is "${task.spec.rounds.mode}"); create a new task`,
      );
    }
    const ftrl = spec.privacy.mode === 'ftrl' || task.spec.privacy.mode === 'ftrl';
    if (ftrl && JSON.stringify(spec.privacy) !== JSON.stringify(task.spec.privacy)) {
      throw new PollenError(
        'INVALID_TASK',
        "a DP-FTRL task's privacy settings cannot change: its tree, its noise and its participation record were accounted under them; create a new task",
      );
    }
    await this.store.updateTaskSpec(spec);
    this.runners.get(taskId)?.poke();
    const updated = (await this.store.getTask(taskId))!;
    // Evaluation rounds just turned on (or changed): the current version is scored if it is due.
    await this.runners.get(taskId)?.federated.resume(updated);
    this.emit('taskStarted', updated);
    return updated;
  }

  /** A task's model here (undefined when it does not run here). */
  model(taskId: string): TaskModel | undefined {
    return this.models.get(taskId);
  }

  /**
   * A version of a fine-tuning task as a plain tfjs model (its round vector over the frozen
   * base, LoRA merged; or, as `form` adapters, LoRA's adapters kept apart); null for a task that
   * trains every weight: its versions are the model.
   */
  async fineTunedModel(
    task: StoredTask,
    version: number,
    form: ExportForm = 'merged',
  ): Promise<SavedModel | null> {
    const kind = trainableOf(task.spec.training).kind;
    if (form === 'adapters' && kind !== 'lora') {
      throw new PollenError(
        'INVALID_ARGUMENT',
        `"form" adapters needs a task that trains LoRA adapters; this one trains ${kind}`,
      );
    }
    if (kind === 'all') return null;
    const stored = await this.store.getVersion(task.spec.id, version);
    if (!stored) throw new PollenError('NOT_FOUND', 'no such model version');
    await this.ensureRunner(task);
    const model = this.model(task.spec.id);
    if (!model) throw new PollenError('NOT_FOUND', `task "${task.spec.id}" has no model here`);
    return model.exportVersion(version, stored.weights, form);
  }

  runner(taskId: string): TaskRunner | undefined {
    return this.runners.get(taskId);
  }

  /** Stop every runner (rounds in flight are abandoned) and release the models. */
  async close(): Promise<void> {
    await Promise.all([...this.runners.values()].map((r) => r.stop()));
    this.runners.clear();
    for (const model of this.models.values()) model.dispose();
    this.models.clear();
  }
}
