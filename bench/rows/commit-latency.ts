import { decodeDense, encodeDense } from '@pollen/compression';
import {
  type ClientToServerEvents,
  PROTOCOL_VERSION,
  type RoundStartMessage,
  type ServerToClientEvents,
  toBytes,
} from '@pollen/fl-core';
import { sendUpload, socketLink } from '@pollen/participation';
import { io, type Socket } from 'socket.io-client';
import { BenchError } from '../lib/errors.ts';
import { deviceAuth } from '../lib/identity.ts';
import { median, quantile, sig, sleep } from '../lib/stats.ts';
import { startCoordinator } from '../sim/coordinator.ts';
import type { ApiRound } from '../sim/report.ts';
import type { BenchContext, BenchRow, Suite } from './types.ts';

const TASK = 'commit-latency';
/** The goal of issue 16: a median under this many milliseconds. */
const GOAL_MS = 50;
/** Each round's clients wait this long before uploading, as if training. */
const TRAIN_MS = 300;

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A contributor that answers each round with a small constant update, when told to. */
class Contributor {
  readonly socket: ClientSocket;
  private readonly starts = new Map<number, (msg: RoundStartMessage) => void>();
  private readonly seen = new Map<number, RoundStartMessage>();

  constructor(
    url: string,
    readonly clientId: string,
    /** Called with each round's start as it arrives, before anything else is done with it. */
    private readonly onStart: (msg: RoundStartMessage) => void,
  ) {
    this.socket = io(url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: deviceAuth(clientId),
    });
    this.socket.on('round:start', (msg) => {
      this.onStart(msg);
      this.seen.set(msg.roundId, msg);
      this.starts.get(msg.roundId)?.(msg);
    });
  }

  async hello(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      if (this.socket.connected) return resolve();
      this.socket.once('connect', () => resolve());
      this.socket.once('connect_error', (err) => reject(new BenchError('CLIENT_FAILED', err.message)));
    });
    const reply = await this.socket.timeout(20_000).emitWithAck('hello', {
      protocolVersion: PROTOCOL_VERSION,
      clientId: this.clientId,
      taskId: TASK,
      backend: 'cpu',
      numExamples: 100,
      eligible: true,
    });
    if (!reply.ok) throw new BenchError('CLIENT_FAILED', `hello: ${reply.code} ${reply.message}`);
  }

  /** The start message of round `roundId`, once it has arrived. */
  start(roundId: number): Promise<RoundStartMessage> {
    const seen = this.seen.get(roundId);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.starts.set(roundId, resolve));
  }

  async upload(msg: RoundStartMessage, update: Float32Array): Promise<void> {
    const ack = await sendUpload(socketLink(this.socket, 20_000), 'update', {
      taskId: msg.taskId,
      roundId: msg.roundId,
      modelVersion: msg.modelVersion,
      numExamples: 100,
      backend: 'cpu',
      metrics: { loss: 1 },
      trainMs: 0,
      update: encodeDense(update, msg.codec, { round: msg.roundId }),
    });
    if (!ack.ok) throw new BenchError('CLIENT_FAILED', `update: ${ack.code} ${ack.message}`);
  }
}

interface Run {
  /** Per measured round: ms from the last upload's emit to the next round's start at a client. */
  readonly latencies: number[];
  /** evaluationMs of the versions evaluated in the run. */
  readonly evaluations: number[];
  readonly committed: number;
}

/**
 * One coordinator process with the default task's model and data (784-128-10 MLP, d = 101,770,
 * MNIST's 2,000 held-out digits) and two clients in every round; rounds close when both have
 * reported. Each round: after TRAIN_MS the first client uploads, then the second, whose emit starts the clock;
 * the clock stops when the next round's start reaches a client.
 */
async function measureRun(rounds: number, warmup: number): Promise<Run> {
  const coordinator = await startCoordinator({
    task: {
      id: TASK,
      name: 'Commit latency benchmark',
      model: { kind: 'mlp', hidden: [128] },
      dataset: { name: 'mnist', partition: { kind: 'iid' }, numShards: 20, seed: 1 },
      rounds: {
        cohortSize: 2,
        minReports: 2,
        minClients: 2,
        overSelection: 1,
        deadlineMs: 60_000,
        maxRounds: 0,
      },
    },
  });
  const arrived = new Map<number, number>();
  const note = (msg: RoundStartMessage): void => {
    if (!arrived.has(msg.roundId)) arrived.set(msg.roundId, performance.now());
  };
  const clients = ['bench-commit-a', 'bench-commit-b'].map(
    (id) => new Contributor(coordinator.url, id, note),
  );
  try {
    for (const c of clients) await c.hello();
    const [a, b] = clients as [Contributor, Contributor];
    const latencies: number[] = [];
    let update: Float32Array | null = null;
    for (let r = 1; r <= warmup + rounds; r++) {
      const [ma, mb] = await Promise.all([a.start(r), b.start(r)]);
      // Stand-in for local training, and under the contributor rate limit (5 messages/s).
      await sleep(TRAIN_MS);
      update ??= new Float32Array(decodeDense(toBytes(ma.weights!)).vector.length).fill(1e-4);
      await a.upload(ma, update);
      const sent = performance.now();
      await b.upload(mb, update);
      await Promise.race([a.start(r + 1), b.start(r + 1)]);
      if (r > warmup) latencies.push(arrived.get(r + 1)! - sent);
    }
    // The evaluations that finished while the rounds ran, and the last version's.
    let records: ApiRound[] = [];
    for (let i = 0; i < 100; i++) {
      records = await coordinator.get<ApiRound[]>(`/api/tasks/${TASK}/rounds?limit=1000`);
      const last = records.filter((x) => x.status === 'committed').at(-1);
      if (last?.evaluationMs !== undefined) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const committed = records.filter((x) => x.status === 'committed');
    const evaluations = committed.flatMap((x) => (x.evaluationMs === undefined ? [] : [x.evaluationMs]));
    return { latencies, evaluations, committed: committed.length };
  } finally {
    for (const c of clients) c.socket.disconnect();
    await coordinator.stop();
  }
}

/**
 * Evaluation off the commit path (issue 16): how long a coordinator takes from the last
 * accepted upload of a round to the next round's start, against the held-out evaluation of a
 * version measured in the same run (which a commit used to wait for).
 */
export const commitLatencySuite: Suite = {
  id: 'commit-latency',
  title: 'Commit to next round',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const rounds = ctx.tiny ? 3 : 20;
    const warmup = ctx.tiny ? 1 : 3;
    const runs: Run[] = [];
    for (let r = 0; r < ctx.runs; r++) {
      ctx.log(`commit-latency: run ${r + 1}/${ctx.runs} (${rounds} rounds)`);
      runs.push(await measureRun(rounds, warmup));
    }
    const perRun = runs.map((r) => median(r.latencies));
    const evaluationPerRun = runs.map((r) => median(r.evaluations));
    const value = median(perRun);
    const evaluation = median(evaluationPerRun);
    const all = runs.flatMap((r) => r.latencies);
    const evaluated = runs.reduce((n, r) => n + r.evaluations.length, 0);
    const committed = runs.reduce((n, r) => n + r.committed, 0);
    return [
      {
        suite: 'commit-latency',
        name: `last upload to the next round's start, default task (d = 101,770), 2 Node clients a round (goal < ${GOAL_MS} ms)`,
        value: sig(value),
        unit: 'ms',
        baseline: {
          name: 'held-out evaluation of one version (2,000 digits), same runs',
          value: sig(evaluation),
          unit: 'ms',
        },
        ratio: sig(value / evaluation),
        ratioMeaning: 'x the evaluation time a commit used to wait for (lower is better)',
        runs: ctx.runs,
        extra: {
          p90Ms: sig(quantile(all, 0.9)),
          maxMs: sig(Math.max(...all)),
          roundsMeasured: all.length,
          versionsCommitted: committed,
          versionsEvaluated: evaluated,
          goalMs: GOAL_MS,
          goalMet: value < GOAL_MS ? 'yes' : `no, by ${sig(value - GOAL_MS)} ms`,
        },
        note: 'median of per-run medians; the clock starts at the second client emitting its upload and stops when the next round:start reaches a client',
      },
    ];
  },
};
