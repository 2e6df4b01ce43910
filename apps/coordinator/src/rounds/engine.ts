import { EventEmitter } from 'node:events';
import { CodecError, FRAME_HEADER_BYTES, maxUploadBytes } from '@pollen/compression';
import {
  type Ack,
  compressionK,
  PollenError,
  type PollenErrorCode,
  specSize,
  type TaskSpec,
  toPollenError,
} from '@pollen/fl-core';
import { weightSpecOf, withoutInitialWeights } from '@pollen/ml';
import type { FastifyBaseLogger } from 'fastify';
import { checkAdmission } from '../admission/handshake.ts';
import { type Clock, systemClock } from '../clock.ts';
import type { ClusterHooks } from '../cluster/node.ts';
import { SecAggRelay } from '../cluster/secagg-relay.ts';
import { TaskModel } from '../ml/evaluator.ts';
import { HeldOutSource } from '../ml/held-out-source.ts';
import type { PollenServer, PollenSocket } from '../socket.ts';
import { DEFAULT_RETENTION, type RetentionPolicy } from '../store/retention.ts';
import type { RoundRecord, Store, StoredTask } from '../store/types.ts';
import { createRunner } from './create-runner.ts';
import type { Evaluator, VersionEvaluated } from './evaluations.ts';
import { decodeRoundUpload, parseEligibility, parseHello, parseUpdate, parseWithdraw } from './messages.ts';
import { type Contributor, Population } from './population.ts';
import { RateLimiter } from './rate-limit.ts';
import type { TaskRunner } from './runner.ts';
import { parseSecAggEnvelope, SECAGG_EVENTS } from './secagg-messages.ts';
import { SecAggRound } from './secagg-round.ts';
import { VersionPins } from './version-pins.ts';

export type { PollenServer };

/** What an engine is set up with beyond its store, log and clock. */
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
}

/** Largest payload a task's update may take: a dense float32 frame, two under SCAFFOLD (Delta c_i). */
export function maxUpdateBytes(task: StoredTask): number {
  const d = specSize(task.weightSpec);
  const dense = FRAME_HEADER_BYTES + d * 4;
  // A sparse upload near full density (values plus up to 5 index bytes each) can outgrow the
  // dense frame; the round's own decoder holds each upload to its plan's exact bound.
  const { compression, codec } = task.spec;
  const plan = { ...compression, precision: codec, k: compressionK(compression, d) };
  const update = compression.kind === 'none' ? dense : Math.max(dense, maxUploadBytes(plan, d));
  return update + (task.spec.strategy.scaffold ? dense : 0);
}

/** Messages per second a contributor socket may send, and the burst it may save up. */
const MESSAGES_PER_SECOND = 5;
const MESSAGE_BURST = 20;
/** A socket refused this many times in a row for flooding is disconnected. */
const FLOOD_DISCONNECT = 50;
/**
 * How long a selected client whose connection broke keeps its place in the round: a tab keeps
 * training through a network drop, reconnects with the same client id and uploads.
 */
export const RECONNECT_GRACE_MS = 10_000;

/**
 * The coordinator's core: the connected population, one runner per task, and the
 * contributor protocol. Transport-facing checks happen here, before any decoding.
 */
export class Engine extends EventEmitter<{
  round: [RoundRecord];
  roundStarted: [RoundRecord];
  /** A committed version's held-out metrics were attached (after its commit). */
  evaluated: [VersionEvaluated];
  /** A committed version's evaluation was skipped for a newer version. */
  evaluationSkipped: [{ readonly taskId: string; readonly version: number }];
  rejected: [PollenErrorCode];
  /** A task runs here now, or its settings changed: the transport's message limit may need to grow. */
  taskStarted: [StoredTask];
}> {
  readonly population = new Population();
  /** Versions an export in progress needs: retention keeps them. */
  readonly pins: VersionPins;
  private readonly limiter = new RateLimiter(MESSAGES_PER_SECOND, MESSAGE_BURST);
  private readonly runners = new Map<string, TaskRunner>();
  private readonly models = new Map<string, TaskModel>();
  /**
   * Selected clients whose connection broke, by client id: the round they were in and the drop
   * that follows unless they return.
   */
  private readonly awaited = new Map<string, { readonly roundId: number; readonly cancel: () => void }>();

  private readonly starting = new Map<string, Promise<void>>();
  /** Where held-out examples come from: uploads in the store, else built-in data. */
  readonly heldOut: HeldOutSource;
  /** In a cluster, the hooks runners use; set by `useCluster` before `start`. */
  private cluster: ClusterHooks | undefined;

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
  useCluster(cluster: ClusterHooks): void {
    this.cluster = cluster;
  }

  /** The tasks this engine runs. */
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
    // Initial weights become version 0; the stored spec keeps the topology only (docs/tasks.md).
    const stored = { ...spec, model: withoutInitialWeights(spec.model) };
    const task = await this.store.createTask(stored, weightSpecOf(model.model), initial, evaluation);
    this.models.set(spec.id, model);
    await this.startRunner(task);
    return task;
  }

  private modelOptions(): { sample?: number } {
    const { evaluationSample } = this.options;
    return evaluationSample === undefined ? {} : { sample: evaluationSample };
  }

  /**
   * Run a stored task this engine has no runner for yet: in a cluster, one another node
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
    const runner = createRunner(task, {
      store: this.store,
      population: this.population,
      log: this.log,
      evaluator: this.options.evaluator?.(task.spec, model) ?? model,
      retention: this.options.retention ?? DEFAULT_RETENTION,
      pinned: (taskId) => this.pins.pinned(taskId),
      clock: this.clock,
      onRound: (record) => this.emit('round', record),
      onRoundStarted: (record) => this.emit('roundStarted', record),
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
    this.emit('taskStarted', updated);
    return updated;
  }

  runner(taskId: string): TaskRunner | undefined {
    return this.runners.get(taskId);
  }

  /** Serve the contributor protocol on a Socket.io server. */
  attach(io: PollenServer): void {
    io.on('connection', (socket) => this.onConnection(socket));
  }

  private onConnection(socket: PollenSocket): void {
    const log = this.log.child({ socket: socket.id });
    let floods = 0;
    // Every message: rate limit first, then the handler; the answer is the result or an error code.
    const respond = async <T extends object>(ack: unknown, fn: () => T | Promise<T>): Promise<void> => {
      let reply: Ack<T>;
      try {
        this.limiter.take(socket.id);
        floods = 0;
        reply = { ok: true, ...(await fn()) };
      } catch (err) {
        const e = toPollenError(err instanceof CodecError ? new PollenError(err.code, err.message) : err);
        if (e.code === 'INTERNAL') log.error({ err }, 'message handler failed');
        if (e.code === 'RATE_LIMITED' && ++floods >= FLOOD_DISCONNECT) {
          log.warn('disconnecting a flooding socket');
          socket.disconnect(true);
        }
        this.emit('rejected', e.code);
        reply = { ok: false, code: e.code, message: e.message };
      }
      if (typeof ack === 'function') ack(reply);
      else if (!reply.ok) socket.emit('pollen:error', { code: reply.code, message: reply.message });
    };
    const contributor = (): Contributor => {
      const c = this.population.bySocketId(socket.id);
      if (!c) throw new PollenError('INVALID_MESSAGE', 'say hello first');
      return c;
    };

    socket.on(
      'hello',
      (msg, ack) =>
        void respond(ack, async () => {
          if (this.population.bySocketId(socket.id))
            throw new PollenError('INVALID_MESSAGE', 'hello was already said');
          const hello = parseHello(msg);
          // The handshake proved which client id this connection holds (admission/handshake.ts).
          if (hello.clientId !== socket.data.clientId) {
            throw new PollenError(
              'IDENTITY_MISMATCH',
              `hello names client "${hello.clientId}"; this connection proved "${socket.data.clientId}"`,
            );
          }
          const task = await this.store.getTask(hello.taskId);
          if (!task) throw new PollenError('UNKNOWN_TASK', `no task "${hello.taskId}"`);
          checkAdmission(socket.data, task.spec.id, task.spec.admission);
          await this.ensureRunner(task);
          // Checked again: another hello on this socket may have joined while the store answered.
          if (this.population.bySocketId(socket.id))
            throw new PollenError('INVALID_MESSAGE', 'hello was already said');
          if (!socket.connected) throw new PollenError('INVALID_MESSAGE', 'the connection closed');
          const replaced = this.population.join({
            socketId: socket.id,
            clientId: hello.clientId,
            taskId: hello.taskId,
            backend: hello.backend,
            numExamples: hello.numExamples,
            eligible: hello.eligible,
            connectedAt: Date.now(),
            activeRound: null,
            send: (event, payload) => socket.emit(event, payload as never),
            disconnect: () => socket.disconnect(true),
          });
          this.resume(hello.clientId);
          if (replaced) {
            replaced.send('pollen:error', {
              code: 'DUPLICATE_CLIENT',
              message: 'this client id connected again',
            });
            replaced.disconnect();
          }
          return {
            taskId: task.spec.id,
            modelVersion: task.currentVersion,
            shardUrl: `/api/tasks/${task.spec.id}/shard/${hello.clientId}`,
            activeRound: this.population.byClientId(hello.clientId)?.activeRound ?? null,
          };
        }),
    );

    socket.on(
      'eligibility',
      (msg, ack) =>
        void respond(ack, () => {
          const c = contributor();
          const update = parseEligibility(msg);
          c.eligible = update.eligible;
          c.numExamples = update.numExamples;
          if (!c.eligible && c.activeRound !== null)
            this.runners.get(c.taskId)?.drop(c.clientId, c.activeRound);
          this.population.touch();
          return {};
        }),
    );

    socket.on(
      'update',
      (msg, ack) =>
        void respond(ack, async () => {
          const c = contributor();
          const task = (await this.store.getTask(c.taskId))!;
          const update = parseUpdate(msg, maxUpdateBytes(task));
          if (update.taskId !== c.taskId)
            throw new PollenError('NOT_IN_ROUND', `client joined "${c.taskId}"`);
          const round = this.runners.get(c.taskId)?.target(c.clientId, update.roundId);
          if (!round) throw new PollenError('ROUND_CLOSED', `round ${update.roundId} is not open`);
          round.checkMembership(c.clientId);
          try {
            if (update.modelVersion !== round.baseVersion) {
              throw new PollenError(
                'STALE_MODEL',
                `round ${round.roundId} trains version ${round.baseVersion}`,
              );
            }
            // The round's codec only (dense, or its compression), checked before anything is allocated.
            const { delta, norm } = decodeRoundUpload(
              update.update,
              round.upload ?? null,
              specSize(task.weightSpec),
            );
            // A task that clips bounds the norm by C plus the noise allowance instead (privacy.ts).
            const maxNorm = round.privacy?.maxNorm ?? task.spec.maxUpdateNorm;
            if (norm > maxNorm) {
              throw new PollenError('NORM_TOO_LARGE', `update norm ${norm.toFixed(3)} exceeds ${maxNorm}`);
            }
            round.accept({
              clientId: c.clientId,
              delta,
              numExamples: update.numExamples,
              backend: update.backend,
              metrics: { metrics: update.metrics, trainMs: update.trainMs },
              bytes: update.update.byteLength,
              controlDelta: update.controlDelta,
              clipBit: update.clipBit,
              steps: update.steps,
            });
          } catch (err) {
            round.noteRejected();
            throw err;
          }
          return { roundId: round.roundId };
        }),
    );

    socket.on(
      'withdraw',
      (msg, ack) =>
        void respond(ack, () => {
          const c = contributor();
          const withdraw = parseWithdraw(msg);
          const runner = this.runners.get(c.taskId);
          const round = runner?.target(c.clientId, withdraw.roundId);
          if (!runner || !round)
            throw new PollenError('ROUND_CLOSED', `round ${withdraw.roundId} is not open`);
          round.checkMembership(c.clientId);
          runner.drop(c.clientId, withdraw.roundId);
          log.info({ round: withdraw.roundId, reason: withdraw.reason }, 'client withdrew');
          return {};
        }),
    );

    // Secure aggregation's stages, routed to the round that runs them (secagg-round.ts).
    for (const event of SECAGG_EVENTS) {
      socket.on(event, (msg: unknown, ack: unknown) => {
        void respond(ack, () => {
          const c = contributor();
          const envelope = parseSecAggEnvelope(event, msg);
          if (envelope.taskId !== c.taskId)
            throw new PollenError('NOT_IN_ROUND', `client joined "${c.taskId}"`);
          const round = this.runners.get(c.taskId)?.target(c.clientId, envelope.roundId);
          if (!round) throw new PollenError('ROUND_CLOSED', `round ${envelope.roundId} is not open`);
          // On a cluster node that does not hold the lease, a relay forwards to the one that does.
          if (!(round instanceof SecAggRound) && !(round instanceof SecAggRelay)) {
            throw new PollenError('INVALID_MESSAGE', `round ${round.roundId} is not securely aggregated`);
          }
          round.receive(event, c.clientId, envelope.body);
          return {};
        });
      });
    }

    socket.on('disconnect', (reason) => {
      this.limiter.forget(socket.id);
      const c = this.population.leave(socket.id);
      if (!c || c.activeRound === null) return;
      // A client that left on purpose is dropped at once; a broken connection gets a grace period.
      if (reason === 'client namespace disconnect')
        this.runners.get(c.taskId)?.drop(c.clientId, c.activeRound);
      else this.awaitReturn(c, c.activeRound);
    });
  }

  /** Drop a selected client from its round unless it says hello again within the grace period. */
  private awaitReturn(c: Contributor, roundId: number): void {
    this.awaited.get(c.clientId)?.cancel();
    const cancel = this.clock.setTimeout(() => {
      this.awaited.delete(c.clientId);
      if (this.population.byClientId(c.clientId)) return;
      this.runners.get(c.taskId)?.drop(c.clientId, roundId);
    }, RECONNECT_GRACE_MS);
    this.awaited.set(c.clientId, { roundId, cancel });
  }

  /**
   * A client that came back within its grace period is in its round again, and is sent the
   * round's start once more: the one it was sent may have been lost with its connection (a
   * client already training that round ignores the repeat).
   */
  private resume(clientId: string): void {
    const awaited = this.awaited.get(clientId);
    if (!awaited) return;
    awaited.cancel();
    this.awaited.delete(clientId);
    const c = this.population.byClientId(clientId);
    if (c) this.runners.get(c.taskId)?.resume(c, awaited.roundId);
  }

  /** Stop every runner (rounds in flight are abandoned) and release the models. */
  async close(): Promise<void> {
    for (const { cancel } of this.awaited.values()) cancel();
    this.awaited.clear();
    await Promise.all([...this.runners.values()].map((r) => r.stop()));
    this.runners.clear();
    for (const model of this.models.values()) model.dispose();
    this.models.clear();
  }
}
