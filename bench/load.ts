import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeDense } from '@pollen/compression';
import {
  type ClientToServerEvents,
  expectInRange,
  expectInt,
  PROTOCOL_VERSION,
  type RoundStartMessage,
  type ServerToClientEvents,
  seededRng,
  specSize,
  type WeightSpec,
} from '@pollen/fl-core';
import { sendUpload, socketLink } from '@pollen/participation';
import { io, type Socket } from 'socket.io-client';
import { deviceAuth } from './lib/identity.ts';
import { describeMachine } from './lib/machine.ts';
import { RESULTS_DIR } from './lib/paths.ts';
import { startCoordinator } from './sim/coordinator.ts';

/**
 * Load test of one coordinator (issue 7): thousands of SYNTHETIC clients (they train
 * nothing; each answers a round with a small constant update after a random delay, which is
 * what a load test needs and all it claims), Poisson sampling at rate q, a share of every
 * cohort dropping out (disconnecting, then coming back with the same client id). It reports
 * the coordinator's resident memory per connected client and committed rounds per minute.
 *
 *   pnpm --filter @pollen/bench exec tsx load.ts --clients 10000 --minutes 10
 */
type LoadSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** An acknowledgement lost because the socket closed (a simulated drop-out) is expected. */
const ignoreClosed = (): void => {};

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '10000' },
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '0.01' },
    dropout: { type: 'string', default: '0.1' },
  },
});
const clients = expectInt('--clients', Number(values.clients), 10, 50_000);
const minutes = expectInRange('--minutes', Number(values.minutes), 0.1, 60);
const rate = expectInRange('--rate', Number(values.rate), 1e-4, 1);
const dropout = expectInRange('--dropout', Number(values.dropout), 0, 0.9);
const expectedCohort = Math.max(2, Math.round(clients * rate));
const log = (line: string): void => {
  process.stderr.write(`[load ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};

async function residentBytes(metricsText: () => Promise<string>): Promise<number> {
  const text = await metricsText();
  const match = /^pollen_process_resident_memory_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text);
  if (!match) throw new Error('the coordinator did not report pollen_process_resident_memory_bytes');
  return Number(match[1]);
}

async function main(): Promise<void> {
  const coordinator = await startCoordinator({
    task: {
      id: 'load',
      model: { kind: 'mlp', hidden: [8] },
      rounds: {
        cohortSize: expectedCohort,
        minReports: Math.max(1, Math.floor(expectedCohort / 2)),
        minClients: Math.max(2, Math.floor(expectedCohort / 2)),
        overSelection: 1.3,
        samplingRate: rate,
        deadlineMs: 15_000,
      },
    },
  });
  const metricsText = async (): Promise<string> => {
    const res = await fetch(`${coordinator.url}/metrics`, {
      headers: { authorization: `Bearer ${coordinator.token}` },
    });
    return res.text();
  };
  const rng = seededRng(7);
  const sockets: LoadSocket[] = [];
  try {
    const task = await coordinator.get<{ weightSpec: WeightSpec; currentVersion: number }>('/api/tasks/load');
    const update = encodeDense(new Float32Array(specSize(task.weightSpec)).fill(1e-4), 'f32');
    // Hold new rounds until everyone is connected, so the population is what it says.
    await coordinator.send('POST', '/api/tasks/load/pause');
    await new Promise((r) => setTimeout(r, 1000));
    const baseline = await residentBytes(metricsText);

    let answered = 0;
    let vanished = 0;
    const connect = (id: string): LoadSocket => {
      const socket: LoadSocket = io(coordinator.url, {
        auth: deviceAuth(id),
        transports: ['websocket'],
        forceNew: true,
        reconnection: false,
      });
      socket.on('connect', () => {
        socket
          .emitWithAck('hello', {
            protocolVersion: PROTOCOL_VERSION,
            clientId: id,
            taskId: 'load',
            backend: 'cpu',
            numExamples: 100,
            eligible: true,
          })
          .catch(ignoreClosed);
      });
      socket.on('round:start', (msg: RoundStartMessage) => {
        if (rng() < dropout) {
          vanished++;
          socket.disconnect();
          // A device that vanished comes back later with the same id.
          setTimeout(() => {
            const again = connect(id);
            sockets[sockets.indexOf(socket)] = again;
          }, 5000);
          return;
        }
        setTimeout(
          () => {
            answered++;
            sendUpload(socketLink(socket), 'update', {
              taskId: msg.taskId,
              roundId: msg.roundId,
              modelVersion: msg.modelVersion,
              numExamples: 100,
              backend: 'cpu',
              metrics: { loss: 1, accuracy: 0.1 },
              trainMs: 1,
              update,
            }).catch(ignoreClosed);
          },
          200 + rng() * 3000,
        );
      });
      return socket;
    };
    const started = Date.now();
    for (let i = 0; i < clients; i++) {
      sockets.push(connect(`load-${String(i).padStart(8, '0')}`));
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 100));
    }
    const healthz = async (): Promise<number> =>
      ((await (await fetch(`${coordinator.url}/healthz`)).json()) as { connected: number }).connected;
    while ((await healthz()) < clients) {
      if (Date.now() - started > 180_000)
        throw new Error(`only ${await healthz()} of ${clients} connected in 3 minutes`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const connectMs = Date.now() - started;
    await new Promise((r) => setTimeout(r, 2000));
    const loaded = await residentBytes(metricsText);
    log(
      `${clients} clients connected in ${(connectMs / 1000).toFixed(1)} s; resident ${(loaded / 2 ** 20).toFixed(0)} MiB`,
    );

    await coordinator.send('POST', '/api/tasks/load/start');
    const runStart = Date.now();
    const versionAtStart = task.currentVersion;
    const durationMs = minutes * 60_000;
    let peak = loaded;
    while (Date.now() - runStart < durationMs) {
      await new Promise((r) => setTimeout(r, 10_000));
      peak = Math.max(peak, await residentBytes(metricsText));
      const now = await coordinator.get<{ currentVersion: number }>('/api/tasks/load');
      log(
        `${((Date.now() - runStart) / 1000).toFixed(0)} s: version ${now.currentVersion}, connected ${await healthz()}`,
      );
    }
    const rounds = await coordinator.get<
      { status: string; selected: number; reported: number; startedAt: number }[]
    >('/api/tasks/load/rounds?limit=1000');
    const inWindow = rounds.filter((r) => r.startedAt >= runStart);
    const committed = inWindow.filter((r) => r.status === 'committed');
    const elapsedMin = (Date.now() - runStart) / 60_000;
    const result = {
      synthetic: true,
      machine: describeMachine(),
      command: `pnpm --filter @pollen/bench exec tsx load.ts --clients ${clients} --minutes ${minutes} --rate ${rate} --dropout ${dropout}`,
      clients,
      samplingRate: rate,
      dropout,
      minutes: elapsedMin,
      connectSeconds: connectMs / 1000,
      roundsCommitted: committed.length,
      roundsAbandoned: inWindow.filter((r) => r.status === 'abandoned').length,
      committedPerMinute: committed.length / elapsedMin,
      meanSelected: committed.reduce((n, r) => n + r.selected, 0) / Math.max(1, committed.length),
      meanReported: committed.reduce((n, r) => n + r.reported, 0) / Math.max(1, committed.length),
      updatesSent: answered,
      clientsVanished: vanished,
      residentBaselineMiB: baseline / 2 ** 20,
      residentLoadedMiB: loaded / 2 ** 20,
      residentPeakMiB: peak / 2 ** 20,
      bytesPerClient: (loaded - baseline) / clients,
      versionsCommitted:
        (await coordinator.get<{ currentVersion: number }>('/api/tasks/load')).currentVersion -
        versionAtStart,
    };
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(join(RESULTS_DIR, 'load.json'), `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    for (const s of sockets) s.disconnect();
    await coordinator.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`load test failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
