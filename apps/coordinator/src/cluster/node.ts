import { asksHeldOutReport, type RoundStartMessage, uploadPlanFor } from '@pollen/fl-core';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { FastifyBaseLogger } from 'fastify';
import type { ClusterPort } from '../rounds/cluster-port.ts';
import type { DrivenRound } from '../rounds/handle.ts';
import type { Contributor, Population } from '../rounds/population.ts';
import { Round } from '../rounds/round.ts';
import type { RoundShare, TaskRunner } from '../rounds/runner.ts';
import type { PollenServer } from '../socket.ts';
import type { Fence } from '../store/types.ts';
import type { RoundEnd, RoundPlan, SecAggForward } from './events.ts';
import { RoundLeases } from './lease.ts';
import { partialKey, readPartial, writePartial } from './partials.ts';
import { connectRedis, type Redis } from './redis.ts';
import { ClientRegistry } from './registry.ts';
import { SecAggRelay } from './secagg-relay.ts';

/** Followers hand their partial in this long before the holder's deadline, so it still counts. */
const PARTIAL_MARGIN_MS = 1000;
/** A follower whose holder went silent gives up on the round this long after its deadline. */
const END_GRACE_MS = 5000;

/**
 * One coordinator of several sharing Redis: the Socket.io Redis Streams adapter (any node can
 * emit to any client), round leases, the client registry, and the partial sums each node
 * gathers of a round from its own clients for the lease holder to add up.
 */
export class ClusterNode implements ClusterPort {
  readonly nodeId: string;
  private readonly redis: Redis;
  private readonly leases: RoundLeases;
  private readonly registry: ClientRegistry;
  /** Rounds this node follows, by `task:round` (several may be in flight): the holder's end resolves them. */
  private readonly following = new Map<string, { round: RoundShare; end: (e: RoundEnd | null) => void }>();
  private closed = false;
  /** The Socket.io server, once attached: until then this node takes no lease. */
  private server: PollenServer | null = null;

  private constructor(
    redis: Redis,
    nodeId: string,
    private readonly population: Population,
    private readonly runners: (taskId: string) => TaskRunner | undefined,
    private readonly tasks: () => readonly string[],
    private readonly log: FastifyBaseLogger,
  ) {
    this.redis = redis;
    this.nodeId = nodeId;
    this.leases = new RoundLeases(redis, nodeId, (taskId) => {
      log.warn({ task: taskId }, 'round lease lost; the round in flight is abandoned');
      runners(taskId)?.stopRounds();
    });
    this.registry = new ClientRegistry(redis, nodeId, population, tasks, (err) =>
      log.warn({ err }, 'client registry update failed'),
    );
  }

  /** Connect to Redis and register this node; `attach` the Socket.io server before rounds run. */
  static async connect(options: {
    redisUrl: string;
    nodeId: string;
    population: Population;
    runners: (taskId: string) => TaskRunner | undefined;
    tasks: () => readonly string[];
    log: FastifyBaseLogger;
  }): Promise<ClusterNode> {
    const log = options.log.child({ node: options.nodeId });
    const redis = await connectRedis(options.redisUrl, (err) => log.warn({ err }, 'redis error'));
    return new ClusterNode(redis, options.nodeId, options.population, options.runners, options.tasks, log);
  }

  /**
   * Put the Socket.io server on the Redis Streams adapter (an emit to any socket reaches the
   * node it is connected to), listen to the other nodes, and start offering this node's clients.
   */
  async attach(io: PollenServer): Promise<void> {
    io.adapter(createAdapter(this.redis));
    io.on('pollen:plan', (plan) => void this.follow(plan));
    io.on('pollen:partial', (msg) => void this.absorb(msg));
    io.on('pollen:secagg', (msg) => this.relayed(msg));
    io.on('pollen:end', (end) => this.following.get(followKey(end.taskId, end.roundId))?.end(end));
    this.server = io;
    await this.registry.start();
    this.log.info('joined the cluster');
  }

  private get io(): PollenServer {
    if (!this.server) throw new Error('the cluster node has no Socket.io server attached');
    return this.server;
  }

  acquire(taskId: string): Promise<{ fence: Fence; fresh: boolean } | null> {
    if (this.closed || !this.server) return Promise.resolve(null);
    return this.leases.acquire(taskId);
  }

  async remote(taskId: string): Promise<Contributor[]> {
    const remote = await this.registry.remote(taskId);
    const seen = new Set<string>();
    const out: Contributor[] = [];
    for (const r of remote) {
      if (seen.has(r.clientId)) continue;
      seen.add(r.clientId);
      out.push({
        socketId: r.socketId,
        clientId: r.clientId,
        taskId,
        backend: r.backend,
        numExamples: r.numExamples,
        eligible: true,
        connectedAt: 0,
        activeRound: null,
        activeEvaluation: null,
        // Its own node starts and ends the round with it; the rest goes through the adapter.
        send: (event, payload) => {
          if (event === 'round:start' || event === 'round:end') return;
          this.io.to(r.socketId).emit(event, payload as never);
        },
        disconnect: () => {
          this.io.in(r.socketId).disconnectSockets(true);
        },
        nodeId: r.nodeId,
      });
    }
    return out;
  }

  opened(round: DrivenRound, start: RoundStartMessage, cohort: readonly Contributor[]): void {
    const remote = cohort.filter((c) => nodeOf(c) !== null);
    if (remote.length === 0) return;
    const plan: RoundPlan = {
      taskId: round.taskId,
      roundId: round.roundId,
      holder: this.nodeId,
      baseVersion: round.baseVersion,
      deadline: round.deadline,
      ...round.share(remote.map((c) => c.clientId)),
      cohort: cohort.map((c) => ({ clientId: c.clientId, nodeId: nodeOf(c) ?? this.nodeId })),
      start,
    };
    this.io.serverSideEmit('pollen:plan', plan);
  }

  ended(end: RoundEnd): void {
    this.io.serverSideEmit('pollen:end', end);
  }

  /** A follower's share of a round: start it with its own clients, hand in the partial, wait for the end. */
  private async follow(plan: RoundPlan): Promise<void> {
    const mine = plan.cohort.filter((c) => c.nodeId === this.nodeId).map((c) => c.clientId);
    const runner = this.runners(plan.taskId);
    if (mine.length === 0 || !runner || this.closed) return;
    const log = this.log.child({ task: plan.taskId, round: plan.roundId, holder: plan.holder });
    if (plan.secagg) return this.relay(plan, mine, runner, log);
    const deadlineMs = Math.max(
      0,
      plan.deadline - Date.now() - Math.min(PARTIAL_MARGIN_MS, (plan.deadline - Date.now()) / 5),
    );
    const round = new Round({
      taskId: plan.taskId,
      roundId: plan.roundId,
      baseVersion: plan.baseVersion,
      dimension: plan.dimension,
      selected: mine,
      // This node's share of the target, so the sum of shares reaches the holder's.
      target: Math.ceil((plan.target * mine.length) / plan.cohort.length),
      deadlineMs,
      robust: plan.robust,
      scaffold: plan.scaffold,
      fednova: plan.fednova ?? false,
      privacy: plan.privacy,
      // The round's upload compression, from the start message the holder built (coordinates.ts).
      upload: plan.start.compression ? uploadPlanFor(plan.start, plan.dimension) : null,
      heldOut: asksHeldOutReport(plan.start.evaluation),
    });
    if (!runner.follow(round)) {
      round.close('stopped');
      return;
    }
    const ended = new Promise<RoundEnd | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), Math.max(0, plan.deadline - Date.now()) + END_GRACE_MS);
      timer.unref();
      this.following.set(followKey(plan.taskId, plan.roundId), {
        round,
        end: (e) => {
          if (e && e.roundId !== plan.roundId) return;
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
    for (const id of mine) {
      const c = this.population.byClientId(id);
      if (!c || c.taskId !== plan.taskId) {
        round.drop(id);
        continue;
      }
      c.activeRound = plan.roundId;
      c.send('round:start', plan.start);
    }
    this.population.touch();
    log.info({ selected: mine.length }, 'following round');
    const reason = await round.closed;
    runner.unfollow(round);
    try {
      await writePartial(
        this.redis,
        partialKey(plan.taskId, plan.roundId, this.nodeId),
        round.partial(),
        plan.dimension,
      );
      this.io.serverSideEmit('pollen:partial', {
        taskId: plan.taskId,
        roundId: plan.roundId,
        nodeId: this.nodeId,
      });
    } catch (err) {
      log.warn({ err }, 'could not hand in the partial');
    }
    log.info({ reported: round.reportedCount, reason }, 'partial handed in');
    const end = await ended;
    this.following.delete(followKey(plan.taskId, plan.roundId));
    this.endFor(mine, plan, end);
    if (!end) log.warn('the lease holder never ended the round; its clients are free again');
  }

  /**
   * A follower's share of a secure round: start its clients with their SecAgg blocks and
   * forward what they send to the holder until the round ends (see secagg-relay.ts).
   */
  private async relay(
    plan: RoundPlan,
    mine: readonly string[],
    runner: TaskRunner,
    log: FastifyBaseLogger,
  ): Promise<void> {
    const { taskId, roundId } = plan;
    const stageMs = Object.values(plan.secagg!)[0]?.stageMs ?? 0;
    const relay = new SecAggRelay(
      taskId,
      roundId,
      plan.baseVersion,
      plan.privacy,
      mine,
      // The unmask stage follows the deadline: stay until the holder ends the round.
      Math.max(0, plan.deadline - Date.now()) + 2 * stageMs + END_GRACE_MS,
      (forward) => this.io.serverSideEmit('pollen:secagg', { ...forward, taskId, roundId }),
    );
    if (!runner.follow(relay)) {
      relay.close('stopped');
      return;
    }
    const ended = new Promise<RoundEnd | null>((resolve) => {
      this.following.set(followKey(taskId, roundId), {
        round: relay,
        end: (e) => {
          relay.close('stopped');
          resolve(e);
        },
      });
      void relay.closed.then(() => resolve(null));
    });
    for (const id of mine) {
      const c = this.population.byClientId(id);
      if (!c || c.taskId !== taskId || !plan.secagg![id]) {
        relay.drop(id);
        continue;
      }
      c.activeRound = roundId;
      c.send('round:start', { ...plan.start, secagg: plan.secagg![id] });
    }
    this.population.touch();
    log.info({ selected: mine.length }, 'relaying secure round');
    const end = await ended;
    runner.unfollow(relay);
    this.following.delete(followKey(taskId, roundId));
    this.endFor(mine, plan, end);
    if (!end) log.warn('the lease holder never ended the secure round; its clients are free again');
  }

  /** Tell this node's clients of a round how it ended, and free them. */
  private endFor(mine: readonly string[], plan: RoundPlan, end: RoundEnd | null): void {
    for (const id of mine) {
      const c = this.population.byClientId(id);
      if (!c || c.activeRound !== plan.roundId) continue;
      c.activeRound = null;
      c.send('round:end', {
        taskId: plan.taskId,
        roundId: plan.roundId,
        status: end?.status ?? 'abandoned',
        modelVersion: end?.modelVersion ?? plan.baseVersion,
      });
    }
    this.population.touch();
  }

  /** The holder: a follower's client sent a secure round's stage message, or left. */
  private relayed(msg: SecAggForward): void {
    const round = this.runners(msg.taskId)?.driven(msg.roundId);
    if (!round) return;
    try {
      if (msg.kind === 'drop') round.drop(msg.clientId);
      else round.receive(msg.event, msg.clientId, msg.body as Record<string, unknown>);
    } catch (err) {
      // The client's own node acknowledged the envelope; the refusal is the holder's to log.
      this.log.warn(
        { err, task: msg.taskId, round: msg.roundId, client: msg.clientId },
        'relayed secagg message refused',
      );
    }
  }

  /** The holder folds a follower's partial into the round it drives. */
  private async absorb(msg: { taskId: string; roundId: number; nodeId: string }): Promise<void> {
    const round = this.runners(msg.taskId)?.driven(msg.roundId);
    if (!round) return;
    try {
      const partial = await readPartial(
        this.redis,
        partialKey(msg.taskId, msg.roundId, msg.nodeId),
        round.dimension,
      );
      if (partial && round.isOpen) round.absorb(partial);
    } catch (err) {
      this.log.warn({ err, task: msg.taskId, round: msg.roundId, from: msg.nodeId }, 'partial refused');
    }
  }

  /** Leave the cluster: withdraw this node's clients, give the leases back, close Redis. */
  async close(): Promise<void> {
    this.closed = true;
    for (const f of this.following.values()) f.end(null);
    await this.registry.stop();
    await this.leases.releaseAll();
    await this.redis.quit().catch(() => {});
  }
}

const followKey = (taskId: string, roundId: number): string => `${taskId}:${roundId}`;

/** The node a remote contributor lives on; null for this node's own. */
function nodeOf(c: Contributor): string | null {
  return c.nodeId ?? null;
}
