import {
  expectObject,
  expectOneOf,
  expectString,
  OPERATOR_ACTIONS,
  OPERATOR_NAMESPACE,
  type OperatorClientToServerEvents,
  type OperatorServerToClientEvents,
  type OperatorSnapshot,
  type OperatorTask,
  PollenError,
  specSize,
  TASK_ID_PATTERN,
  toPollenError,
} from '@pollen/fl-core';
import type { FastifyInstance } from 'fastify';
import type { Namespace, Server } from 'socket.io';
import { operatorTokenCheck } from '../auth.ts';
import type { Engine } from '../rounds/engine.ts';
import type { VersionEvaluated } from '../rounds/evaluations.ts';
import type { PollenServer } from '../socket.ts';
import type { EvaluationRecord, RoundRecord } from '../store/types.ts';

type OperatorNamespace = Namespace<OperatorClientToServerEvents, OperatorServerToClientEvents>;

/** Rounds a subscriber gets in its snapshot: the latest ones. */
const SNAPSHOT_ROUNDS = 500;
/** Evaluation rounds a subscriber gets in its snapshot: the latest ones. */
const SNAPSHOT_EVALUATIONS = 200;
/** Population changes are pushed at most this often per task. */
const PUSH_THROTTLE_MS = 250;
/** How often a round in flight is pushed while someone watches (reports arrive without population changes). */
const OPEN_ROUND_TICK_MS = 1000;

const room = (taskId: string): string => `task:${taskId}`;

/** A task's status, version and population as a dashboard shows them. */
export async function operatorTask(engine: Engine, taskId: string): Promise<OperatorTask> {
  const task = await engine.store.getTask(taskId);
  if (!task) throw new PollenError('UNKNOWN_TASK', `no task "${taskId}"`);
  const counts = engine.population.counts(taskId);
  return {
    id: taskId,
    name: task.spec.name,
    status: task.status,
    currentVersion: task.currentVersion,
    dimension: specSize(task.weightSpec),
    population: { ...counts, available: engine.population.available(taskId).length },
    round: engine.runner(taskId)?.openRoundIds().at(-1) ?? null,
  };
}

/**
 * The dashboard's live feed: a Socket.io namespace `/operator` on the contributors' server.
 * Every connection must present an operator token in its handshake (`auth: { token }`),
 * checked like the REST API's bearer token; a refused one never reaches a handler. A
 * subscriber to a task gets a snapshot, then each round as it opens, progresses and closes,
 * and the task's population as it changes; it may resume or pause the task.
 */
export function operatorSocket(
  app: FastifyInstance,
  io: PollenServer,
  engine: Engine,
  tokens: readonly string[],
): void {
  // The server's generics type the contributors' namespace; this one speaks the operator protocol.
  const nsp = (io as unknown as Server<OperatorClientToServerEvents, OperatorServerToClientEvents>).of(
    OPERATOR_NAMESPACE,
  ) as OperatorNamespace;
  const check = operatorTokenCheck(tokens);
  const log = app.log.child({ namespace: OPERATOR_NAMESPACE });

  nsp.use((socket, next) => {
    try {
      check((socket.handshake.auth as { token?: unknown } | undefined)?.token);
      next();
    } catch (err) {
      const e = toPollenError(err);
      log.warn({ address: socket.handshake.address, code: e.code }, 'operator socket refused');
      next(Object.assign(new Error(e.message), { data: { code: e.code } }));
    }
  });

  const watched = (): string[] =>
    [...nsp.adapter.rooms.keys()].filter((r) => r.startsWith('task:')).map((r) => r.slice(5));
  const pushTask = (taskId: string): void => {
    operatorTask(engine, taskId).then(
      (task) => nsp.to(room(taskId)).emit('task', task),
      // A task that is gone has nothing to push; anything else is worth a line in the log.
      (err: unknown) => {
        if (toPollenError(err).code !== 'UNKNOWN_TASK') log.error({ err }, 'task push failed');
      },
    );
  };
  const pushOpenRound = (taskId: string): void => {
    for (const record of engine.runner(taskId)?.openRecords() ?? [])
      nsp.to(room(taskId)).emit('round', record);
  };

  const onRound = (record: RoundRecord): void => {
    nsp.to(room(record.taskId)).emit('round', record);
    pushTask(record.taskId);
  };
  const onEvaluationRound = (record: EvaluationRecord): void => {
    nsp.to(room(record.taskId)).emit('evaluation', record);
    pushTask(record.taskId);
  };
  // Held-out metrics arrive after the commit: the round goes out again with them, and the
  // dashboard's charts redraw from the record it replaces.
  const onEvaluated = ({ record }: VersionEvaluated): void => {
    if (record) nsp.to(room(record.taskId)).emit('round', record);
  };
  let pending: NodeJS.Timeout | null = null;
  const announced = new Map<string, number>();
  const onPopulation = (): void => {
    // A round that just opened goes out at once (a fast round may close before the throttle fires).
    for (const taskId of watched()) {
      const latest = engine.runner(taskId)?.openRoundIds().at(-1);
      if (latest !== undefined && announced.get(taskId) !== latest) {
        announced.set(taskId, latest);
        pushOpenRound(taskId);
      }
    }
    pending ??= setTimeout(() => {
      pending = null;
      for (const taskId of watched()) {
        pushTask(taskId);
        pushOpenRound(taskId);
      }
    }, PUSH_THROTTLE_MS);
  };
  const tick = setInterval(() => {
    for (const taskId of watched()) pushOpenRound(taskId);
  }, OPEN_ROUND_TICK_MS);
  tick.unref();
  engine.on('round', onRound);
  engine.on('evaluated', onEvaluated);
  engine.on('evaluationRound', onEvaluationRound);
  engine.population.on('change', onPopulation);
  app.addHook('preClose', async () => {
    nsp.disconnectSockets(true);
    clearInterval(tick);
    if (pending) clearTimeout(pending);
    engine.off('round', onRound);
    engine.off('evaluated', onEvaluated);
    engine.off('evaluationRound', onEvaluationRound);
    engine.population.off('change', onPopulation);
  });

  nsp.on('connection', (socket) => {
    const taskIdOf = (msg: unknown): string =>
      expectString(
        'taskId',
        expectObject('message', msg, 'INVALID_MESSAGE').taskId,
        63,
        TASK_ID_PATTERN,
        'INVALID_MESSAGE',
      );
    // Every answer is `{ ok: true, ... }` or `{ ok: false, code, message }`; a handler never throws out.
    const answer = async <T extends object>(ack: unknown, fn: () => Promise<T>): Promise<void> => {
      if (typeof ack !== 'function') return;
      try {
        ack({ ok: true, ...(await fn()) });
      } catch (err) {
        const e = toPollenError(err);
        if (e.code === 'INTERNAL') log.error({ err }, 'operator message failed');
        ack({ ok: false, code: e.code, message: e.message });
      }
    };

    socket.on(
      'subscribe',
      (msg, ack) =>
        void answer(ack, async (): Promise<OperatorSnapshot> => {
          const taskId = taskIdOf(msg);
          const task = await operatorTask(engine, taskId);
          for (const r of socket.rooms) if (r !== socket.id) void socket.leave(r);
          void socket.join(room(taskId));
          const after = Math.max(0, (await engine.store.nextRoundId(taskId)) - 1 - SNAPSHOT_ROUNDS);
          return {
            task,
            rounds: await engine.store.listRounds(taskId, { after, limit: SNAPSHOT_ROUNDS }),
            evaluations: await engine.store.listEvaluations(taskId, { latest: SNAPSHOT_EVALUATIONS }),
          };
        }),
    );

    socket.on(
      'control',
      (msg, ack) =>
        void answer(ack, async () => {
          const taskId = taskIdOf(msg);
          const action = expectOneOf(
            'action',
            (msg as { action?: unknown }).action,
            OPERATOR_ACTIONS,
            'INVALID_MESSAGE',
          );
          await engine.setStatus(taskId, action === 'start' ? 'running' : 'paused');
          log.info({ task: taskId, action }, 'operator control over the socket');
          pushTask(taskId);
          return { task: await operatorTask(engine, taskId) };
        }),
    );
  });
}
