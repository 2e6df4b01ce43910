import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeDense } from '@pollen/compression';
import {
  type Ack,
  type ClientToServerEvents,
  type ContributorAuth,
  type EvaluationReportMessage,
  type EvaluationStartMessage,
  type HeldOutReport,
  hashSeed,
  type RoundStartMessage,
  type ServerToClientEvents,
  seededRng,
  type UpdateMessage,
} from '@pollen/fl-core';
import {
  InMemoryDevice,
  InMemoryModelCache,
  Participant,
  sendUpload,
  socketLink,
  type TrainOutput,
} from '@pollen/participation';
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
 * What a test may set beyond the task: admission, retention and upload-budget settings, a clock it drives
 * (manual-clock.ts), an evaluator it controls.
 */
export interface TestSettings
  extends Pick<CoordinatorConfig, 'admission' | 'retention' | 'uploadBudgetBytes'> {
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
    ...(settings.uploadBudgetBytes !== undefined ? { uploadBudgetBytes: settings.uploadBudgetBytes } : {}),
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
 * round with whatever `respond` computes from the global weights, through the same
 * participation the browser SDK and the simulation use (@pollen/participation: privacy,
 * compression with error feedback kept in memory, secure rounds through SecAggNodeClient).
 * Without `respond` it only records its rounds, and the test answers them by hand (`send`,
 * `secagg.start`).
 */
export class NodeContributor {
  readonly socket: TestSocket;
  readonly rounds: RoundStartMessage[] = [];
  readonly acks: Ack<{ roundId?: number }>[] = [];
  /** Frames this client sent, in order (what the coordinator folded in, when acknowledged). */
  readonly sent: Uint8Array[] = [];
  private waiters: ((msg: RoundStartMessage) => void)[] = [];
  /** Evaluation rounds this client was asked in, in order. */
  readonly evaluations: EvaluationStartMessage[] = [];
  private evaluationWaiters: ((msg: EvaluationStartMessage) => void)[] = [];
  /**
   * How this device answers an evaluation round on its own: its held-out report of the global
   * model (null: it holds none). Unset: the test answers by hand (`report`).
   */
  evaluator: ((global: Float32Array, msg: EvaluationStartMessage) => HeldOutReport | null) | null = null;
  /** The answers to this device's evaluation reports sent on its own, with what they reported. */
  readonly evaluated: {
    readonly msg: EvaluationStartMessage;
    readonly heldOut: HeldOutReport | null;
    readonly ack: Ack;
  }[] = [];
  /** The secure-aggregation side: runs every round that comes with a SecAgg block. */
  readonly secagg: SecAggNodeClient;
  private readonly memory = new InMemoryDevice();
  /** The broadcast model it keeps for compressed downloads; a test may corrupt or clear it. */
  readonly models = new InMemoryModelCache();
  /** Models it had to ask for whole (`round:model`), with their bytes. */
  readonly refetched: { readonly roundId: number; readonly bytes: number }[] = [];
  /** Errors participation reported on this side (a model that did not check out, say). */
  readonly errors: { readonly code: string; readonly message: string }[] = [];
  private readonly participant: Participant;
  /** The examples this device said it holds, at its last hello: what its updates are weighted by. */
  private numExamples = 10;

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
    this.secagg = new SecAggNodeClient(this.socket, leaveAfter);
    const link = socketLink(this.socket);
    this.participant = new Participant({
      clientId,
      link: () => link,
      backend: () => 'cpu',
      trainer: {
        train: async ({ msg, weights }) => this.answer(weights, msg),
        evaluate: async ({ msg, weights }) => this.evaluator?.(weights, msg) ?? null,
      },
      memory: this.memory,
      models: this.models,
      secure: this.secagg.channel(),
      // Reproducible noise and random-k: a test may compare what two runs sent.
      rng: (msg) => seededRng(hashSeed(`${clientId}:${msg.roundId}`)),
      events: {
        // Kept as it leaves, so a test that sees the round commit finds it here.
        sending: (_msg, frame) => this.sent.push(frame),
        // Plain updates only: a secure round's acks are in `secagg.acks`.
        answered: (_msg, ack, frame) => {
          if (frame) this.acks.push(ack);
        },
        evaluated: (msg, heldOut, ack) => this.evaluated.push({ msg, heldOut, ack }),
        refetched: (msg, bytes) => this.refetched.push({ roundId: msg.roundId, bytes }),
        error: (e) => this.errors.push(e),
      },
    });
    this.socket.on('round:start', (msg) => void this.onRound(msg));
    this.socket.on('round:end', (msg) => void this.participant.roundEnd(msg));
    this.socket.on('eval:start', (msg) => {
      this.evaluations.push(msg);
      for (const w of this.evaluationWaiters.splice(0)) w(msg);
      if (this.evaluator) void this.participant.evaluationStart(msg);
    });
  }

  /** Resolve with the next evaluation round this client is asked in. */
  nextEvaluation(): Promise<EvaluationStartMessage> {
    return new Promise((resolve) => this.evaluationWaiters.push(resolve));
  }

  /** Answer an evaluation round by hand; `fields` override the message's (bad input). */
  report(
    msg: EvaluationStartMessage,
    heldOut: HeldOutReport | null,
    fields: Record<string, unknown> = {},
  ): Promise<Ack> {
    return this.socket.emitWithAck('eval:report', {
      taskId: msg.taskId,
      evaluationId: msg.evaluationId,
      modelVersion: msg.modelVersion,
      heldOut,
      ...fields,
    } as EvaluationReportMessage) as Promise<Ack>;
  }

  /** Error feedback's residual, as the browser keeps it, for rounds that compress. */
  get residual(): Float32Array | null {
    return this.memory.residual;
  }

  private answer(global: Float32Array, msg: RoundStartMessage): TrainOutput | null {
    const delta = this.respond?.(global, msg) ?? null;
    if (!delta) return null;
    return {
      delta,
      numExamples: this.numExamples,
      metrics: { metrics: { loss: 1, accuracy: 0.5 }, trainMs: 1 },
      steps: 1,
      clientControl: null,
      controlDelta: null,
    };
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
    this.numExamples = numExamples;
    const model = await this.participant.cachedModel(taskId);
    return this.socket.emitWithAck('hello', this.participant.hello(taskId, numExamples, true, model));
  }

  /** Resolve with the next round this client is selected for. */
  nextRound(): Promise<RoundStartMessage> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private async onRound(msg: RoundStartMessage): Promise<void> {
    this.rounds.push(msg);
    for (const w of this.waiters.splice(0)) w(msg);
    if (this.respond) await this.participant.roundStart(msg);
  }

  send(
    msg: RoundStartMessage,
    delta: Float32Array | Uint8Array,
    fields: Record<string, unknown> = {},
    { ungranted = false }: { readonly ungranted?: boolean } = {},
  ): Promise<Ack> {
    const update = delta instanceof Float32Array ? encodeDense(delta, 'f32') : delta;
    this.sent.push(update);
    const message = {
      taskId: msg.taskId,
      roundId: msg.roundId,
      modelVersion: msg.modelVersion,
      numExamples: 10,
      backend: 'cpu',
      metrics: { loss: 1, accuracy: 0.5 },
      trainMs: 1,
      update,
      ...fields,
    } as UpdateMessage;
    // As every client does, it waits for an upload slot first (upload-slots.ts); `ungranted`
    // sends the update without one.
    return ungranted
      ? (this.socket.emitWithAck('update', message) as Promise<Ack>)
      : sendUpload(socketLink(this.socket), 'update', message);
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
