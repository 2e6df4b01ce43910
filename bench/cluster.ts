import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeDense } from '@pollen/compression';
import { startPostgres, startRedis } from '@pollen/coordinator/testing';
import {
  type ClientToServerEvents,
  expectInt,
  type OperatorRound,
  PROTOCOL_VERSION,
  type ServerToClientEvents,
} from '@pollen/fl-core';
import { sendUpload, socketLink } from '@pollen/participation';
import { io, type Socket } from 'socket.io-client';
import { deviceAuth } from './lib/identity.ts';
import { describeMachine } from './lib/machine.ts';
import { RESULTS_DIR } from './lib/paths.ts';
import { median, sig, sleep } from './lib/stats.ts';
import { type CoordinatorProcess, startCoordinator } from './sim/coordinator.ts';

/**
 * Scale-out benchmark (issue 9): the same synthetic population against 1, 2 and 3 coordinator
 * processes sharing one PostgreSQL and one Redis, all on this machine, in one run. Clients
 * (SYNTHETIC: they train nothing, each answers every round at once with a constant update)
 * are spread round-robin over the nodes. Two figures per node count, each the median of
 * `--runs` runs, and their ratios to 1 node measured in the same run:
 *   - connected clients per second: sockets opened and `hello` acknowledged, all at once;
 *   - aggregated updates per second: updates counted in committed rounds, over the time from
 *     the first round's start to the last round's commit (the coordinators' own timestamps).
 * One machine shares its cores between the nodes, the databases and the clients, so the
 * ratios say what the cluster costs and carries here, not what separate machines would give.
 *
 *   pnpm bench:cluster [--clients 300] [--rounds 5] [--runs 3]
 */
type BenchSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    nodes: { type: 'string', default: '1,2,3' },
  },
});
const clients = expectInt('--clients', Number(values.clients), 6, 5000);
const rounds = expectInt('--rounds', Number(values.rounds), 1, 100);
const runs = expectInt('--runs', Number(values.runs), 1, 20);
const nodeCounts = values.nodes.split(',').map((n) => expectInt('--nodes', Number(n), 1, 8));
const log = (line: string): void => {
  process.stderr.write(`[cluster ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};

interface RunResult {
  readonly nodes: number;
  readonly connectPerS: number;
  readonly updatesPerS: number;
  readonly committed: number;
  readonly updates: number;
}

async function oneRun(nodes: number, run: number): Promise<RunResult> {
  const [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
  const coordinators: CoordinatorProcess[] = [];
  const sockets: BenchSocket[] = [];
  try {
    const task = {
      id: 'scale',
      model: { kind: 'mlp', hidden: [8] },
      rounds: {
        cohortSize: clients,
        minClients: clients,
        minReports: Math.ceil(clients * 0.9),
        overSelection: 1,
        samplingRate: 1,
        deadlineMs: 30_000,
        maxRounds: rounds,
      },
    };
    const env = (i: number): Record<string, string> => ({
      POLLEN_STORE: 'postgres',
      POLLEN_DATABASE_URL: postgres.url,
      POLLEN_REDIS_URL: redis.url,
      POLLEN_NODE_ID: `bench-${i}`,
    });
    // The first node creates the task; the others find it.
    coordinators.push(await startCoordinator({ task, env: env(0) }));
    coordinators.push(
      ...(await Promise.all(
        Array.from({ length: nodes - 1 }, (_, i) => startCoordinator({ task, env: env(i + 1) })),
      )),
    );
    const { weightSpec } = await coordinators[0]!.get<{ weightSpec: { shape: number[] }[] }>(
      '/api/tasks/scale',
    );
    const dimension = weightSpec.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
    const update = encodeDense(new Float32Array(dimension).fill(0.001), 'f32');

    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async (_, i) => {
        const socket: BenchSocket = io(coordinators[i % nodes]!.url, {
          auth: deviceAuth(`client-${run}-${i}`),
          transports: ['websocket'],
          reconnection: false,
          forceNew: true,
        });
        sockets.push(socket);
        socket.on('round:start', (msg) => {
          sendUpload(socketLink(socket, 30_000), 'update', {
            taskId: msg.taskId,
            roundId: msg.roundId,
            modelVersion: msg.modelVersion,
            numExamples: 10,
            backend: 'cpu',
            metrics: { loss: 1, accuracy: 0.5 },
            trainMs: 1,
            update,
          }).catch(() => {});
        });
        await new Promise<void>((resolve, reject) => {
          socket.once('connect', () => resolve());
          socket.once('connect_error', reject);
        });
        const ack = await socket.timeout(30_000).emitWithAck('hello', {
          protocolVersion: PROTOCOL_VERSION,
          clientId: `client-${run}-${i}`,
          taskId: 'scale',
          backend: 'cpu',
          numExamples: 10,
          eligible: true,
        });
        if (!ack.ok) throw new Error(`hello refused: ${ack.code} ${ack.message}`);
      }),
    );
    const connectS = (performance.now() - t0) / 1000;

    let done: OperatorRound[] = [];
    const deadline = Date.now() + 10 * 60_000;
    for (;;) {
      const list = await coordinators[0]!.get<OperatorRound[]>('/api/tasks/scale/rounds');
      done = list.filter((r) => r.status === 'committed');
      if (done.length >= rounds) break;
      if (Date.now() > deadline)
        throw new Error(`only ${done.length} of ${rounds} rounds committed in 10 minutes`);
      await sleep(200);
    }
    const updates = done.reduce((n, r) => n + r.reported, 0);
    const spanS =
      (Math.max(...done.map((r) => r.endedAt ?? 0)) - Math.min(...done.map((r) => r.startedAt))) / 1000;
    const result = {
      nodes,
      connectPerS: clients / connectS,
      updatesPerS: updates / spanS,
      committed: done.length,
      updates,
    };
    const roundMs = done.map((r) => (r.endedAt ?? 0) - r.startedAt);
    log(
      `${nodes} node(s), run ${run + 1}: ${sig(result.connectPerS)} clients/s connected, ${sig(result.updatesPerS)} updates/s aggregated (rounds ${roundMs.join(', ')} ms)`,
    );
    if (done.some((r) => r.deadlineHit))
      log(coordinators.map((c) => c.output().slice(-3000)).join('\n---\n'));
    return result;
  } finally {
    for (const s of sockets) s.disconnect();
    await Promise.all(coordinators.map((c) => c.stop()));
    await Promise.all([postgres.stop(), redis.stop()]);
  }
}

async function main(): Promise<void> {
  const results: RunResult[] = [];
  // Node counts interleaved run by run, so drift on the machine touches every count alike.
  for (let run = 0; run < runs; run++) {
    for (const nodes of nodeCounts) results.push(await oneRun(nodes, run));
  }
  const rows = nodeCounts.map((nodes) => {
    const mine = results.filter((r) => r.nodes === nodes);
    return {
      nodes,
      connectPerS: sig(median(mine.map((r) => r.connectPerS))),
      updatesPerS: sig(median(mine.map((r) => r.updatesPerS))),
      runs: mine.map((r) => ({
        connectPerS: sig(r.connectPerS),
        updatesPerS: sig(r.updatesPerS),
        updates: r.updates,
      })),
    };
  });
  const base = rows[0]!;
  const table = rows.map((r) => ({
    ...r,
    connectRatio: sig(r.connectPerS / base.connectPerS),
    updatesRatio: sig(r.updatesPerS / base.updatesPerS),
  }));
  const report = {
    benchmark: 'cluster',
    date: new Date().toISOString(),
    machine: describeMachine(),
    settings: { clients, rounds, runs, model: 'mlp [8]', baseline: `${base.nodes} node(s)` },
    rows: table,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, 'cluster.json');
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write('nodes | clients/s connected | ratio | updates/s aggregated | ratio\n');
  for (const r of table) {
    process.stdout.write(
      `${r.nodes} | ${r.connectPerS} | ${r.connectRatio} | ${r.updatesPerS} | ${r.updatesRatio}\n`,
    );
  }
  process.stdout.write(`written to ${file}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
