import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeDense, encodeDense, encodeUpload } from '@pollen/compression';
import {
  type Ack,
  type ClientToServerEvents,
  type ContributorAuth,
  hashSeed,
  PROTOCOL_VERSION,
  type RoundStartMessage,
  type ServerToClientEvents,
  seededRng,
  toBytes,
  uploadPlanFor,
} from '@pollen/fl-core';
import { io, type Socket } from 'socket.io-client';
import { buildCoordinator, type Coordinator } from '../app.ts';
import type { Clock } from '../clock.ts';
import type { CoordinatorConfig } from '../config.ts';
import type { EngineOptions } from '../rounds/engine.ts';
import { resolveTaskInput } from '../task-file.ts';
import { type SecAggLeavePoint, SecAggNodeClient } from './secagg-client.ts';

/** The operator token every test coordinator accepts. */
export const TEST_OPERATOR_TOKEN = 'test-operator-token-0123456789';

/** Headers that authenticate as the test operator. */
export const OPERATOR_HEADERS = { authorization: `Bearer ${TEST_OPERATOR_TOKEN}` };

export interface TestCoordinator extends Coordinator {
  readonly url: string;
  readonly dataDir: string;
  close(): Promise<void>;
}

/**
 * What a test may set beyond the task: admission and retention settings, a clock it drives
 * (manual-clock.ts), an evaluator it controls.
 */
export interface TestSettings extends Pick<CoordinatorConfig, 'admission' | 'retention'> {
  readonly clock?: Clock;
  readonly evaluator?: EngineOptions['evaluator'];
}

/** A real coordinator on 127.0.0.1 with a temporary data directory and a tiny MLP task. */
export async function startTestCoordinator(
  task: Record<string, unknown> = {},
  dataDir = mkdtempSync(join(tmpdir(), 'pollen-test-')),
  settings: TestSettings = {},
): Promise<TestCoordinator> {
  const { writeFileSync } = await import('node:fs');
  const spec = await resolveTaskInput({ id: 'tiny', model: { kind: 'mlp', hidden: [8] }, ...task });
  const taskFile = join(dataDir, 'task.json');
  writeFileSync(taskFile, JSON.stringify(spec));
  const config: CoordinatorConfig = {
    host: '127.0.0.1',
    port: 0,
    dataDir,
    webRoot: null,
    taskFile,
    logLevel: 'silent',
    operatorTokens: [TEST_OPERATOR_TOKEN],
    // Tests wait on evaluations while other test files keep the machine busy.
    evaluatorNice: 0,
    ...(settings.admission ? { admission: settings.admission } : {}),
    ...(settings.retention ? { retention: settings.retention } : {}),
  };
  const coordinator = await buildCoordinator(
    config,
    settings.clock,
    settings.evaluator ? { evaluator: settings.evaluator } : {},
  );
  const url = await coordinator.app.listen({ host: '127.0.0.1', port: 0 });
  return { ...coordinator, url, dataDir, close: () => coordinator.app.close() };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export type TestSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * A test device's handshake auth: its id and a secret derived from the id, so a test that
 * reconnects a client on a new socket proves the same identity, as a browser does from IndexedDB.
 */
export function contributorAuth(clientId: string, extra: Partial<ContributorAuth> = {}): ContributorAuth {
  const secret = createHash('sha256').update(`pollen-test-secret:${clientId}`).digest('base64url');
  return { clientId, secret, ...extra };
}

/**
 * A contributor speaking the real protocol from Node: it trains nothing, it answers each
 * round with whatever `respond` computes from the global weights.
 */
export class NodeContributor {
  readonly socket: TestSocket;
  readonly rounds: RoundStartMessage[] = [];
  readonly acks: Ack<{ roundId?: number }>[] = [];
  /** Frames this client sent, in order (what the coordinator folded in, when acknowledged). */
  readonly sent: Uint8Array[] = [];
  /** Error feedback's residual, as the browser keeps it, for rounds that compress. */
  residual: Float32Array | null = null;
  private waiters: ((msg: RoundStartMessage) => void)[] = [];
  /** The secure-aggregation side: runs every round that comes with a SecAgg block. */
  readonly secagg: SecAggNodeClient;

  constructor(
    url: string,
    readonly clientId: string,
    private readonly respond?: (global: Float32Array, msg: RoundStartMessage) => Float32Array | null,
    /** In secure rounds, vanish after sending this stage's message. */
    leaveAfter: SecAggLeavePoint | null = null,
    /** Handshake auth beyond the test identity: a join token, another secret. */
    auth: Partial<ContributorAuth> = {},
  ) {
    this.socket = io(url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: contributorAuth(clientId, auth),
    });
    this.socket.on('round:start', (msg) => void this.onRound(msg));
    this.secagg = new SecAggNodeClient(this.socket, leaveAfter);
  }

  /**
   * How the handshake ended: connected, or refused with the code the coordinator gave
   * (`connect_error`'s `data.code`).
   */
  connected(): Promise<{ readonly ok: true } | { readonly ok: false; readonly code: string }> {
    if (this.socket.connected) return Promise.resolve({ ok: true });
    return new Promise((resolve) => {
      this.socket.once('connect', () => resolve({ ok: true }));
      this.socket.once('connect_error', (err) =>
        resolve({
          ok: false,
          code: String((err as { data?: { code?: unknown } }).data?.code ?? err.message),
        }),
      );
    });
  }

  async hello(taskId = 'tiny', numExamples = 10): Promise<Ack> {
    if (!this.socket.connected) await new Promise<void>((r) => this.socket.once('connect', () => r()));
    return this.socket.emitWithAck('hello', {
      protocolVersion: PROTOCOL_VERSION,
      clientId: this.clientId,
      taskId,
      backend: 'cpu',
      numExamples,
      eligible: true,
    });
  }

  /** Resolve with the next round this client is selected for. */
  nextRound(): Promise<RoundStartMessage> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private async onRound(msg: RoundStartMessage): Promise<void> {
    this.rounds.push(msg);
    for (const w of this.waiters.splice(0)) w(msg);
    if (!this.respond) return;
    const global = decodeDense(toBytes(msg.weights)).vector;
    const delta = this.respond(global, msg);
    if (!delta) return;
    if (msg.secagg) {
      this.secagg.start(msg, delta);
      return;
    }
    try {
      // A compressing round: the shared upload encoder, as the SDK and the simulation use it.
      const encoded = msg.compression
        ? encodeUpload(delta, uploadPlanFor(msg, delta.length), {
            residual: this.residual,
            rng: seededRng(hashSeed(`${this.clientId}:${msg.roundId}`)),
            meta: { round: msg.roundId },
          })
        : null;
      const ack = await this.send(msg, encoded?.frame ?? delta);
      this.acks.push(ack);
      if (ack.ok && encoded) this.residual = encoded.residual;
    } catch {
      // The socket closed before the coordinator answered: the test ended or dropped us on purpose.
    }
  }

  send(
    msg: RoundStartMessage,
    delta: Float32Array | Uint8Array,
    fields: Record<string, unknown> = {},
  ): Promise<Ack> {
    const update = delta instanceof Float32Array ? encodeDense(delta, 'f32') : delta;
    this.sent.push(update);
    return this.socket.emitWithAck('update', {
      taskId: msg.taskId,
      roundId: msg.roundId,
      modelVersion: msg.modelVersion,
      numExamples: 10,
      backend: 'cpu',
      metrics: { loss: 1, accuracy: 0.5 },
      trainMs: 1,
      update,
      ...fields,
    } as never);
  }

  close(): void {
    this.socket.disconnect();
  }
}

/** Poll until `fn` returns a truthy value or the time is up. */
export async function waitFor<T>(
  fn: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
