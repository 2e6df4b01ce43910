import {
  type Ack,
  OPERATOR_NAMESPACE,
  type OperatorClientToServerEvents,
  type OperatorRound,
  type OperatorServerToClientEvents,
  type OperatorSnapshot,
  type OperatorTask,
  specSize,
} from '@pollen/fl-core';
import { io, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  NodeContributor,
  removeDir,
  startTestCoordinator,
  TEST_OPERATOR_TOKEN,
  type TestCoordinator,
  waitFor,
} from '../testing/harness.ts';

type OperatorSocket = Socket<OperatorServerToClientEvents, OperatorClientToServerEvents>;

let coordinator: TestCoordinator | undefined;
const sockets: { close(): void }[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  if (coordinator) {
    await coordinator.close();
    removeDir(coordinator.dataDir);
    coordinator = undefined;
  }
});

function operator(auth?: Record<string, unknown>): OperatorSocket {
  const socket: OperatorSocket = io(`${coordinator!.url}${OPERATOR_NAMESPACE}`, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    ...(auth ? { auth } : {}),
  });
  sockets.push({ close: () => socket.disconnect() });
  return socket;
}

/** Whether the namespace let the socket in, or the message it was refused with. */
function outcome(socket: OperatorSocket): Promise<'connected' | string> {
  return new Promise((resolve) => {
    socket.once('connect', () => resolve('connected'));
    socket.once('connect_error', (err) => resolve(`${(err as { data?: { code?: string } }).data?.code}`));
  });
}

const task = {
  rounds: { cohortSize: 1, minReports: 1, minClients: 1, overSelection: 1, deadlineMs: 10_000, maxRounds: 0 },
};

describe('the operator namespace', () => {
  it('refuses a missing, malformed or wrong token before any handler runs', async () => {
    coordinator = await startTestCoordinator(task);
    expect(await outcome(operator())).toBe('UNAUTHORIZED');
    expect(await outcome(operator({ token: 42 }))).toBe('UNAUTHORIZED');
    expect(await outcome(operator({ token: 'not the token' }))).toBe('UNAUTHORIZED');
    expect(await outcome(operator({ token: `${TEST_OPERATOR_TOKEN}x` }))).toBe('UNAUTHORIZED');
    expect((await coordinator.store.getTask('tiny'))!.status).toBe('running');
  });

  it('gives a subscriber a snapshot, then pushes rounds and population as they happen', async () => {
    coordinator = await startTestCoordinator(task);
    const socket = operator({ token: TEST_OPERATOR_TOKEN });
    expect(await outcome(socket)).toBe('connected');
    const snapshot = (await socket.emitWithAck('subscribe', { taskId: 'tiny' })) as Ack<OperatorSnapshot>;
    if (!snapshot.ok) throw new Error(snapshot.message);
    const d = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
    expect(snapshot.task).toMatchObject({ id: 'tiny', status: 'running', currentVersion: 0, dimension: d });
    expect(snapshot.task.population.total).toBe(0);
    expect(snapshot.rounds).toEqual([]);

    const rounds: OperatorRound[] = [];
    const tasks: OperatorTask[] = [];
    socket.on('round', (r) => rounds.push(r));
    socket.on('task', (t) => tasks.push(t));
    const client = new NodeContributor(coordinator.url, 'client-live', () => new Float32Array(d).fill(0.01));
    sockets.push(client);
    await client.hello();
    const closed = await waitFor(() => rounds.find((r) => r.status === 'committed'));
    expect(closed).toMatchObject({ roundId: 1, reported: 1, newVersion: 1 });
    expect(closed.clientMetrics).toHaveLength(1);
    expect(rounds.some((r) => r.status === 'open' && r.roundId === 1)).toBe(true);
    await waitFor(() => tasks.find((t) => t.population.total === 1 && t.population.byBackend.cpu === 1));
    expect(tasks.some((t) => t.currentVersion >= 1)).toBe(true);
  });

  it('pauses and resumes a task, and refuses bad requests with a code', async () => {
    coordinator = await startTestCoordinator(task);
    const socket = operator({ token: TEST_OPERATOR_TOKEN });
    expect(await outcome(socket)).toBe('connected');
    const paused = await socket.emitWithAck('control', { taskId: 'tiny', action: 'pause' });
    expect(paused).toMatchObject({ ok: true, task: { status: 'paused' } });
    expect((await coordinator.store.getTask('tiny'))!.status).toBe('paused');
    const resumed = await socket.emitWithAck('control', { taskId: 'tiny', action: 'start' });
    expect(resumed).toMatchObject({ ok: true, task: { status: 'running' } });
    const refuse = async (msg: unknown): Promise<string | undefined> => {
      const reply = (await socket.emitWithAck('control', msg as never)) as Ack;
      return reply.ok ? undefined : reply.code;
    };
    expect(await refuse({ taskId: 'tiny', action: 'stop' })).toBe('INVALID_MESSAGE');
    expect(await refuse({ taskId: 'Not A Task!', action: 'pause' })).toBe('INVALID_MESSAGE');
    expect(await refuse({ taskId: 'nope', action: 'pause' })).toBe('UNKNOWN_TASK');
    expect(await refuse(null)).toBe('INVALID_MESSAGE');
    const sub = (await socket.emitWithAck('subscribe', { taskId: 'nope' })) as Ack;
    expect(sub.ok ? undefined : sub.code).toBe('UNKNOWN_TASK');
  });
});
