import { CodecError } from '@pollen/compression';
import { type Ack, PollenError, toPollenError } from '@pollen/fl-core';
import type { FastifyBaseLogger } from 'fastify';
import { checkAdmission } from '../admission/handshake.ts';
import type { Clock } from '../clock.ts';
import { pingTimeoutFor } from '../message-limit.ts';
import type { PollenServer, PollenSocket } from '../socket.ts';
import { parseSubmission, uploadSlotBytes } from './intake.ts';
import {
  parseEligibility,
  parseEvaluationReport,
  parseHello,
  parseRoundModel,
  parseUploadSlot,
  parseWithdraw,
} from './messages.ts';
import type { Contributor } from './population.ts';
import { RateLimiter } from './rate-limit.ts';
import { ReconnectGrace } from './reconnect-grace.ts';
import { parseSecAggEnvelope, SECAGG_EVENTS } from './secagg-messages.ts';
import type { TaskService } from './task-service.ts';
import { DEFAULT_UPLOAD_BUDGET_BYTES, UploadSlots } from './upload-slots.ts';

/** Messages per second a contributor socket may send, and the burst it may save up. */
const MESSAGES_PER_SECOND = 5;
const MESSAGE_BURST = 20;
/** A socket refused this many times in a row for flooding is disconnected. */
const FLOOD_DISCONNECT = 50;

/**
 * The contributor protocol on a Socket.io server: per-socket rate limits, hello and the
 * handshake's identity, eligibility, updates, withdrawals and secure aggregation's stages, each
 * routed to the round it names through the round's one interface (handle.ts), the upload
 * slots that bound what arrives at once (upload-slots.ts), and the reconnect grace of a
 * selected client whose connection broke. Transport-facing checks happen here, before any
 * decoding.
 */
export class ContributorGateway {
  private readonly limiter = new RateLimiter(MESSAGES_PER_SECOND, MESSAGE_BURST);
  private readonly grace: ReconnectGrace;
  readonly slots: UploadSlots;

  constructor(
    private readonly tasks: TaskService,
    private readonly log: FastifyBaseLogger,
    clock: Clock,
    uploadBudgetBytes = DEFAULT_UPLOAD_BUDGET_BYTES,
  ) {
    this.grace = new ReconnectGrace(tasks, clock);
    this.slots = new UploadSlots(uploadBudgetBytes, clock, pingTimeoutFor);
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
        this.tasks.emit('rejected', e.code);
        reply = { ok: false, code: e.code, message: e.message };
      }
      if (typeof ack === 'function') ack(reply);
      else if (!reply.ok) socket.emit('pollen:error', { code: reply.code, message: reply.message });
    };
    const contributor = (): Contributor => {
      const c = this.tasks.population.bySocketId(socket.id);
      if (!c) throw new PollenError('INVALID_MESSAGE', 'say hello first');
      return c;
    };

    socket.on(
      'hello',
      (msg, ack) =>
        void respond(ack, async () => {
          if (this.tasks.population.bySocketId(socket.id))
            throw new PollenError('INVALID_MESSAGE', 'hello was already said');
          const hello = parseHello(msg);
          // The handshake proved which client id this connection holds (admission/handshake.ts).
          if (hello.clientId !== socket.data.clientId) {
            throw new PollenError(
              'IDENTITY_MISMATCH',
              `hello names client "${hello.clientId}"; this connection proved "${socket.data.clientId}"`,
            );
          }
          const task = await this.tasks.store.getTask(hello.taskId);
          if (!task) throw new PollenError('UNKNOWN_TASK', `no task "${hello.taskId}"`);
          checkAdmission(socket.data, task.spec.id, task.spec.admission);
          await this.tasks.ensureRunner(task);
          // Checked again: another hello on this socket may have joined while the store answered.
          if (this.tasks.population.bySocketId(socket.id))
            throw new PollenError('INVALID_MESSAGE', 'hello was already said');
          if (!socket.connected) throw new PollenError('INVALID_MESSAGE', 'the connection closed');
          const replaced = this.tasks.population.join({
            socketId: socket.id,
            clientId: hello.clientId,
            taskId: hello.taskId,
            backend: hello.backend,
            numExamples: hello.numExamples,
            eligible: hello.eligible,
            connectedAt: Date.now(),
            activeRound: null,
            activeEvaluation: null,
            model: hello.model ?? null,
            send: (event, payload) => socket.emit(event, payload as never),
            disconnect: () => socket.disconnect(true),
          });
          this.grace.resume(hello.clientId);
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
            activeRound: this.tasks.population.byClientId(hello.clientId)?.activeRound ?? null,
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
            this.tasks.runner(c.taskId)?.drop(c.clientId, c.activeRound);
          if (!c.eligible) this.tasks.runner(c.taskId)?.federated.drop(c.clientId);
          this.tasks.population.touch();
          return {};
        }),
    );

    socket.on(
      'upload:slot',
      (msg, ack) =>
        void respond(ack, async () => {
          const c = contributor();
          const { taskId, roundId } = parseUploadSlot(msg);
          if (taskId !== c.taskId) throw new PollenError('NOT_IN_ROUND', `client joined "${c.taskId}"`);
          const task = (await this.tasks.store.getTask(c.taskId))!;
          const evaluation = this.tasks.runner(c.taskId)?.federated.secureRound(roundId);
          const round = evaluation ?? this.tasks.runner(c.taskId)?.target(c.clientId, roundId);
          if (!round) throw new PollenError('ROUND_CLOSED', `round ${roundId} is not open`);
          round.checkMembership(c.clientId);
          return this.slots.request({
            socketId: socket.id,
            roundId,
            // A secure evaluation's masked report is a few words, not a model.
            bytes: evaluation ? 4 * evaluation.dimension : uploadSlotBytes(task),
            open: () => round.isOpen && socket.connected,
          });
        }),
    );

    socket.on(
      'round:model',
      (msg, ack) =>
        void respond(ack, () => {
          const c = contributor();
          const { taskId, roundId } = parseRoundModel(msg);
          if (taskId !== c.taskId) throw new PollenError('NOT_IN_ROUND', `client joined "${c.taskId}"`);
          const runner = this.tasks.runner(c.taskId);
          if (!runner) throw new PollenError('ROUND_CLOSED', `round ${roundId} is not open`);
          // Membership, once per client and round (sync-runner.ts).
          return runner.roundModel(c, roundId);
        }),
    );

    socket.on(
      'update',
      (msg, ack) =>
        void respond(ack, async () => {
          const c = contributor();
          // The upload arrived, taken or refused: a slot it was granted stops counting.
          try {
            const task = (await this.tasks.store.getTask(c.taskId))!;
            const update = parseSubmission(msg, task);
            if (update.taskId !== c.taskId)
              throw new PollenError('NOT_IN_ROUND', `client joined "${c.taskId}"`);
            // Held-out examples are some of those the client said it holds (hello, eligibility).
            if (update.heldOut && update.heldOut.numExamples > c.numExamples) {
              throw new PollenError(
                'INVALID_MESSAGE',
                `"heldOut.numExamples" (${update.heldOut.numExamples}) exceeds the ${c.numExamples} examples this client said it holds`,
              );
            }
            this.slots.expect(socket.id, update.roundId);
            const round = this.tasks.runner(c.taskId)?.target(c.clientId, update.roundId);
            if (!round) throw new PollenError('ROUND_CLOSED', `round ${update.roundId} is not open`);
            // The round's one intake: membership, version, decode, norm, fold (intake.ts).
            round.intake({ clientId: c.clientId, update, maxNorm: task.spec.maxUpdateNorm });
            return { roundId: round.roundId };
          } finally {
            this.slots.arrived(socket.id);
          }
        }),
    );

    socket.on(
      'withdraw',
      (msg, ack) =>
        void respond(ack, () => {
          const c = contributor();
          const withdraw = parseWithdraw(msg);
          const runner = this.tasks.runner(c.taskId);
          const round = runner?.target(c.clientId, withdraw.roundId);
          if (!runner || !round)
            throw new PollenError('ROUND_CLOSED', `round ${withdraw.roundId} is not open`);
          round.checkMembership(c.clientId);
          runner.drop(c.clientId, withdraw.roundId);
          log.info({ round: withdraw.roundId, reason: withdraw.reason }, 'client withdrew');
          return {};
        }),
    );

    // An evaluation round's report: metrics only (federated-evaluation.ts).
    socket.on(
      'eval:report',
      (msg, ack) =>
        void respond(ack, async () => {
          const c = contributor();
          const task = (await this.tasks.store.getTask(c.taskId))!;
          const report = parseEvaluationReport(msg, task.spec.metrics);
          if (report.taskId !== c.taskId)
            throw new PollenError('NOT_IN_ROUND', `client joined "${c.taskId}"`);
          const runner = this.tasks.runner(c.taskId);
          if (!runner)
            throw new PollenError('ROUND_CLOSED', `evaluation round ${report.evaluationId} is not open`);
          runner.federated.report(c, report, Buffer.byteLength(JSON.stringify(msg)));
          return {};
        }),
    );

    // Secure aggregation's stages, routed to the round that runs them (secagg-round.ts).
    for (const event of SECAGG_EVENTS) {
      socket.on(event, (msg: unknown, ack: unknown) => {
        void respond(ack, () => {
          const c = contributor();
          // The masked input is the round's one large upload: it waits for a slot as an update does.
          const upload = event === 'secagg:masked';
          try {
            const envelope = parseSecAggEnvelope(event, msg);
            if (envelope.taskId !== c.taskId)
              throw new PollenError('NOT_IN_ROUND', `client joined "${c.taskId}"`);
            if (upload) this.slots.expect(socket.id, envelope.roundId);
            const runner = this.tasks.runner(c.taskId);
            const round =
              runner?.federated.secureRound(envelope.roundId) ?? runner?.target(c.clientId, envelope.roundId);
            if (!round) throw new PollenError('ROUND_CLOSED', `round ${envelope.roundId} is not open`);
            // A secure round (training, or an evaluation's SecAgg+ stages) takes it; on a cluster node without the lease, its relay forwards it
            // to the holder; any other round refuses it (handle.ts).
            round.receive(event, c.clientId, envelope.body);
            return {};
          } finally {
            if (upload) this.slots.arrived(socket.id);
          }
        });
      });
    }

    socket.on('disconnect', (reason) => {
      this.limiter.forget(socket.id);
      this.slots.release(socket.id);
      const c = this.tasks.population.leave(socket.id);
      // An evaluation round does not wait for a device that left: it reports in seconds or not at
      // all. One the server disconnected (it is shutting down) stays: the round is abandoned then.
      const left = reason !== 'server namespace disconnect' && reason !== 'server shutting down';
      if (c && left && c.activeEvaluation !== null && !this.tasks.population.byClientId(c.clientId))
        this.tasks.runner(c.taskId)?.federated.drop(c.clientId);
      if (!c || c.activeRound === null) return;
      // A client that left on purpose is dropped at once; a broken connection gets a grace period.
      if (reason === 'client namespace disconnect')
        this.tasks.runner(c.taskId)?.drop(c.clientId, c.activeRound);
      else this.grace.await(c, c.activeRound);
    });
  }

  /** Cancel every reconnect grace still running. */
  close(): void {
    this.grace.close();
    this.slots.close();
  }
}
