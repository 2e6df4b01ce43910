import { decodeDense, encodeDense } from '@pollen/compression';
import {
  type Ack,
  type Backend,
  type Binary,
  type ClientToServerEvents,
  type ContributorAuth,
  type EligibilitySettings,
  type EligibilityVerdict,
  normalizeBySteps,
  PROTOCOL_VERSION,
  type Presentation,
  presentationOf,
  type RoundStartMessage,
  type ServerToClientEvents,
  type TaskSpec,
  toBytes,
} from '@pollen/fl-core';
import { decodeExampleSet, inputSize, labelSize } from '@pollen/ml';
import { io, type Socket } from 'socket.io-client';
import type { TrainTask, WorkerReply, WorkerRequest } from '../worker/messages.ts';
import { checkCpuShare, effectiveCpuShare } from './cpu-share.ts';
import { DeviceConditions } from './eligibility.ts';
import { TaskEntries } from './entries.ts';
import { type ClientEvents, type ClientStatus, Emitter } from './events.ts';
import {
  type AddExamplesResult,
  addTaskExamples,
  DEFAULT_QUOTA_BYTES,
  type ExampleInput,
} from './examples.ts';
import { privatize, uploadPrivacy } from './privacy.ts';
import { SecAggRelay } from './secagg-relay.ts';
import * as storage from './storage.ts';
import { acquireTrainerLock, type ReleaseLock } from './trainer-lock.ts';
import { encodeRoundUpload } from './upload.ts';

type PollenSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Handshake refusals that pass: the address is over its limits for now. */
const TRANSIENT_REFUSALS: ReadonlySet<string> = new Set(['RATE_LIMITED', 'TOO_MANY_CONNECTIONS', 'INTERNAL']);

/** A promise with its resolver, for a moment other code waits for. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export interface ClientOptions {
  /** The coordinator's origin, e.g. https://pollen.example.org; defaults to this page's. */
  readonly url?: string;
  /** The task to contribute to. */
  readonly task: string;
  /** Force a backend instead of the best available (webgpu, webgl, wasm, cpu). */
  readonly backend?: Backend;
  /** Load this device's demo shard of the task's dataset when it holds no examples. */
  readonly demoData?: boolean;
  /** Keep training while the tab is hidden. */
  readonly background?: boolean;
  /**
   * IndexedDB space the task's examples may take on this device (default 64 MiB); adding past
   * it deletes the oldest examples first.
   */
  readonly quotaBytes?: number;
  /**
   * A join token, for tasks that admit holders of one only (`admission.joinToken`): a short-lived
   * JWT the host site's backend signs for its signed-in user, with the task id as audience. A
   * function is called before every connection and reconnection, so a fresh token can be
   * fetched once the last one expired.
   */
  readonly joinToken?: string | (() => string | Promise<string>);
  /**
   * The share of time training may keep the CPU busy, in (0, 1] (default 1): training runs in
   * slices with pauses. The task's `training.cpuShare` caps it; a visitor can only go lower.
   */
  readonly cpuShare?: number;
}

type TaskInfo = TrainTask;

/**
 * A contributor: keeps its examples in IndexedDB, trains in a Web Worker, and takes part in
 * the coordinator's rounds over Socket.io.
 */
export class PollenClient extends Emitter<ClientEvents> {
  readonly options: Required<Omit<ClientOptions, 'backend' | 'joinToken' | 'cpuShare'>> & {
    backend: Backend | null;
    joinToken: ClientOptions['joinToken'] | null;
  };
  private worker: Worker | null = null;
  private socket: Socket<ServerToClientEvents, ClientToServerEvents> | null = null;
  private backendName: Backend | null = null;
  private task: (TaskInfo & { presentation: Presentation; demoData: boolean }) | null = null;
  private id = '';
  private secret = '';
  private trainSeq = 0;
  private state: ClientStatus = 'idle';
  private pending = new Map<number, { resolve: (r: WorkerReply) => void; roundId: number }>();
  /** SCAFFOLD: c_i+ of rounds this device reported in, kept once the round commits. */
  private pendingControls = new Map<number, Float32Array>();
  /** Set from start() until stop(): aborting it ends a start still waiting or loading. */
  private session: AbortController | null = null;
  private releaseLock: ReleaseLock | null = null;
  private background: boolean;
  /** Resolved once the coordinator acknowledged this connection's hello; renewed on each disconnect. */
  private introduced = deferred();
  /** The worker changed backend during a round: rejoin once the round's upload is done. */
  private rejoinPending = false;
  /** The task's eligibility conditions as this device meets them (eligibility.ts). */
  private readonly conditions: DeviceConditions;
  /** The task's conditions and CPU share cap, from its spec. */
  private device: { eligibility: EligibilitySettings | null; cpuShareCap: number } = {
    eligibility: null,
    cpuShareCap: 1,
  };
  /** The visitor's CPU share, before the task's cap. */
  private visitorCpuShare: number;
  /** Rounds this device left because it stopped being eligible: their updates are not sent. */
  private readonly left = new Set<number>();
  /** Rounds this page is training or uploading right now. */
  private readonly inFlight = new Set<number>();
  /** Leaving the page leaves the coordinator at once, rather than after its reconnection grace. */
  private readonly onPageHide = (): void => this.stop();
  /** Rounds this page was selected for and has not heard the end of. */
  private readonly handling = new Set<number>();
  /** Secure rounds: relays between the coordinator and the worker, which runs SecAgg+. */
  private readonly secagg = new SecAggRelay(
    () => this.worker,
    (e) => this.emit('error', e),
  );

  constructor(options: ClientOptions) {
    super();
    this.options = {
      url: options.url ?? globalThis.location?.origin ?? '',
      task: options.task,
      backend: options.backend ?? null,
      demoData: options.demoData ?? true,
      background: options.background ?? false,
      quotaBytes: options.quotaBytes ?? DEFAULT_QUOTA_BYTES,
      joinToken: options.joinToken ?? null,
    };
    this.background = this.options.background;
    this.visitorCpuShare = checkCpuShare(options.cpuShare ?? 1);
    this.conditions = new DeviceConditions((verdict) => this.onEligibility(verdict), {
      background: this.background,
    });
    // The page's history of rounds joined survives reloads: keep it next to the examples.
    this.on('uploaded', (u) =>
      this.remember(u.roundId, () => ({
        roundId: u.roundId,
        at: Date.now(),
        bytes: u.bytes,
        numExamples: u.numExamples,
        metrics: u.metrics,
        trainMs: u.trainMs,
        epsilon: u.epsilon ?? null,
        outcome: null,
      })),
    );
    this.on('roundEnd', (r) => this.remember(r.roundId, (e) => e && { ...e, outcome: r.status }));
    this.on('selected', (r) => {
      // Rounds do not overlap: one whose end this page missed (a reconnection) is over too.
      for (const id of this.handling) if (id < r.roundId) this.handling.delete(id);
      this.handling.add(r.roundId);
    });
    this.on('roundEnd', (r) => {
      this.handling.delete(r.roundId);
      if (this.rejoinPending) this.rejoin();
    });
  }

  get status(): ClientStatus {
    return this.state;
  }

  get backend(): Backend | null {
    return this.backendName;
  }

  get clientId(): string {
    return this.id;
  }

  private setStatus(status: ClientStatus, detail = ''): void {
    this.state = status;
    this.emit('status', { status, detail });
    if (status === 'waiting' && this.rejoinPending) queueMicrotask(() => this.rejoin());
  }

  /** Train while this tab is hidden (true), or tell the coordinator it is ineligible then (false). */
  setBackground(background: boolean): void {
    this.background = background;
    this.conditions.setBackground(background);
  }

  /** Whether this device may train now, and which of the task's conditions hold it back. */
  get eligibility(): EligibilityVerdict {
    return this.conditions.current();
  }

  /** The share of time training may keep the CPU busy: the visitor's, capped by the task's. */
  get cpuShare(): number {
    return effectiveCpuShare(this.visitorCpuShare, this.device.cpuShareCap);
  }

  /** The task's cap on the CPU share (1 until the task is loaded). */
  get cpuShareCap(): number {
    return this.device.cpuShareCap;
  }

  /** Lower (or raise, up to the task's cap) the CPU share training may use, from the next round. */
  setCpuShare(share: number): void {
    this.visitorCpuShare = checkCpuShare(share);
    this.emit('cpuShare', { share: this.cpuShare, cap: this.device.cpuShareCap });
  }

  /**
   * A condition changed: tell the coordinator at once. A device no longer eligible is taken
   * out of its round by the coordinator (as when the tab is hidden); it does not send that
   * round's update.
   */
  private onEligibility(verdict: EligibilityVerdict): void {
    if (!verdict.eligible) for (const roundId of this.inFlight) this.left.add(roundId);
    this.emit('eligibility', verdict);
    void this.reportEligibility();
  }

  /** Examples this device holds for the task, by source: the demo shard, drawn, added by the host page. */
  exampleCounts(): Promise<Record<storage.ExampleSource, number>> {
    return storage.countBySource(this.options.task);
  }

  /** The rounds this device joined for the task, oldest first (kept across reloads). */
  history(): Promise<storage.HistoryEntry[]> {
    return storage.loadHistory(this.options.task);
  }

  /** Forget the rounds this device joined for the task. */
  clearHistory(): Promise<void> {
    return storage.clearHistory(this.options.task);
  }

  private remember(
    roundId: number,
    change: (previous: storage.HistoryEntry | undefined) => storage.HistoryEntry | undefined,
  ): void {
    let saved: storage.HistoryEntry | undefined;
    storage
      .recordHistory(this.options.task, roundId, (previous) => {
        saved = change(previous);
        return saved;
      })
      .then(
        () => saved && this.emit('history', saved),
        (err: unknown) =>
          this.emit('error', {
            code: 'CLIENT_ERROR',
            message: `could not keep the history: ${(err as Error).message}`,
          }),
      );
  }

  /** Examples this device holds for the task. */
  countExamples(): Promise<number> {
    return storage.countExamples(this.options.task);
  }

  /**
   * Add labelled examples `{ x, y }` (typed arrays or number arrays of the task's input shape
   * and dtype; y a class id, flags, values or next tokens as the task's target says). Each is
   * checked; a bad one is refused with a stable code and the good ones are kept (examples.ts).
   */
  async addExamples(
    examples: readonly ExampleInput[],
    source: 'drawn' | 'host' = 'host',
  ): Promise<AddExamplesResult> {
    const task = await this.taskSpec();
    const result = await addTaskExamples(this.options.task, task, examples, source, this.options.quotaBytes);
    await this.reportEligibility();
    return result;
  }

  /**
   * The visitor's own entries for the task (text typed, messages pasted and labelled), kept in
   * this browser and turned into training examples by the task's presentation (entries.ts).
   */
  async entries(): Promise<TaskEntries> {
    const task = await this.taskSpec();
    return new TaskEntries(this.options.task, task, this.options.quotaBytes);
  }

  /** The task's spec as the coordinator serves it, fetched once. */
  private async taskSpec(): Promise<TaskInfo & { presentation: Presentation; demoData: boolean }> {
    if (this.task) return this.task;
    const base = this.options.url.replace(/\/$/, '');
    const res = await fetch(`${base}/api/tasks/${encodeURIComponent(this.options.task)}`);
    if (!res.ok) throw new Error(`task "${this.options.task}" is not available (${res.status})`);
    const { spec } = (await res.json()) as { spec: TaskSpec };
    this.device = {
      eligibility: spec.eligibility ?? null,
      cpuShareCap: spec.training.cpuShare ?? 1,
    };
    this.task = {
      model: spec.model,
      input: spec.input,
      target: spec.target,
      loss: spec.loss,
      metrics: spec.metrics,
      presentation: presentationOf(spec),
      demoData: spec.data !== undefined,
    };
    return this.task;
  }

  /** Remove every example of the task from this device, and what was learnt from them (c_i). */
  async clearExamples(): Promise<void> {
    await storage.clearExamples(this.options.task);
    await storage.clearEntries(this.options.task);
    await storage.clearControl(this.options.task);
    await storage.clearResidual(this.options.task);
    await this.reportEligibility();
  }

  /**
   * Take part in rounds until stopped: wait for this browser's trainer lock (one tab trains at
   * a time; the others report `standby`), choose a backend, load the demo shard if asked,
   * connect and say hello, again after every reconnection, with the same client id.
   */
  async start(): Promise<void> {
    if (this.socket || this.session) return;
    const session = new AbortController();
    this.session = session;
    try {
      this.releaseLock = await acquireTrainerLock(session.signal, () =>
        this.setStatus(
          'standby',
          'another tab of this browser is contributing; this one takes over when it stops',
        ),
      );
      await this.begin(session.signal);
    } catch (err) {
      if (session.signal.aborted) return;
      this.stop();
      throw err;
    }
  }

  private async begin(signal: AbortSignal): Promise<void> {
    this.setStatus('starting', 'preparing the training worker');
    ({ clientId: this.id, secret: this.secret } = await storage.deviceIdentity());
    const base = this.options.url.replace(/\/$/, '');
    const { demoData } = await this.taskSpec();
    if (signal.aborted) return;
    this.emit('cpuShare', { share: this.cpuShare, cap: this.device.cpuShareCap });
    await this.conditions.watch(this.device.eligibility);
    if (signal.aborted) return;
    await this.startWorker();
    // A task without demo data has only what this device's visitor or host page adds.
    if (this.options.demoData && demoData && (await this.exampleCounts()).demo === 0) {
      await this.loadDemoShard(base);
    }
    if (signal.aborted) return;

    this.setStatus('connecting', base);
    const socket: PollenSocket = io(base, {
      // The device's identity (and join token) travel in the handshake, checked before any message.
      auth: (send) => {
        void this.handshakeAuth().then(send, (err: unknown) => {
          this.emit('error', { code: 'CLIENT_ERROR', message: `no join token: ${(err as Error).message}` });
          send({ clientId: this.id, secret: this.secret });
        });
      },
      transports: ['websocket'],
      reconnection: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 10_000,
    });
    this.socket = socket;
    this.holdUntilIntroduced(socket);
    socket.on('connect', () => void this.hello());
    socket.on('disconnect', (reason) => {
      this.introduced = deferred();
      if (this.state !== 'stopped') this.setStatus('connecting', `disconnected (${reason}), reconnecting`);
    });
    socket.on('round:start', (msg) => void this.onRound(msg));
    this.secagg.attach(socket);
    socket.on('round:end', (msg) => {
      this.secagg.end(msg.roundId);
      void this.settleControl(msg.roundId, msg.status === 'committed');
      this.emit('roundEnd', { roundId: msg.roundId, status: msg.status, modelVersion: msg.modelVersion });
    });
    socket.on('pollen:error', (err) => this.emit('error', err));
    socket.on('connect_error', (err) => {
      // Refused by the handshake (a code in `data`): Socket.io does not retry on its own then.
      const code = (err as { data?: { code?: unknown } }).data?.code;
      if (typeof code !== 'string') return;
      this.emit('error', { code, message: err.message });
      if (TRANSIENT_REFUSALS.has(code)) {
        // Too many connections from this address just now: try again later, spread out.
        setTimeout(() => this.socket === socket && socket.connect(), 5000 + Math.random() * 5000);
      } else this.stop();
    });
    globalThis.addEventListener?.('pagehide', this.onPageHide);
  }

  /**
   * Hold back every message but `hello` until the coordinator acknowledged the hello of the
   * current connection. Socket.io sends what was emitted while disconnected before its
   * 'connect' listeners run, so an update finished during a network drop would reach the
   * coordinator ahead of the hello, from a socket it does not know yet, and be refused.
   */
  private holdUntilIntroduced(socket: PollenSocket): void {
    const send = socket.emitWithAck.bind(socket) as (event: string, ...args: unknown[]) => Promise<unknown>;
    socket.emitWithAck = (async (event: string, ...args: unknown[]) => {
      if (event !== 'hello') await this.introduced.promise;
      return send(event, ...args);
    }) as PollenSocket['emitWithAck'];
  }

  /**
   * The worker fell back to another backend: say hello again on a fresh connection, so the
   * coordinator counts this device under the backend it trains on now. A round in flight ends
   * first (its upload, then the coordinator's word on it).
   */
  private rejoin(): void {
    this.rejoinPending = this.handling.size > 0 || this.state === 'training' || this.state === 'uploading';
    if (this.rejoinPending || !this.socket?.connected) return;
    this.socket.disconnect().connect();
  }

  /** Leave: disconnect and stop training. Local examples stay until cleared. */
  stop(): void {
    this.session?.abort();
    this.session = null;
    this.conditions.stop();
    globalThis.removeEventListener?.('pagehide', this.onPageHide);
    this.handling.clear();
    this.left.clear();
    this.inFlight.clear();
    this.socket?.disconnect();
    this.socket = null;
    this.worker?.terminate();
    this.worker = null;
    this.backendName = null;
    for (const p of this.pending.values()) p.resolve({ type: 'error', id: null, message: 'stopped' });
    this.pending.clear();
    // Rounds whose end this client will not hear of: their c_i+ must not be kept.
    this.pendingControls.clear();
    this.rejoinPending = false;
    this.setStatus('stopped', 'not contributing');
    // Last, so a tab waiting for the lock connects only once this one has left.
    this.releaseLock?.();
    this.releaseLock = null;
  }

  private async handshakeAuth(): Promise<ContributorAuth> {
    const token = this.options.joinToken;
    const joinToken = typeof token === 'function' ? await token() : token;
    return { clientId: this.id, secret: this.secret, ...(joinToken ? { joinToken } : {}) };
  }

  private eligible(): boolean {
    return this.conditions.current().eligible;
  }

  private async hello(): Promise<void> {
    const socket = this.socket;
    if (!socket || !this.backendName) return;
    const reply = await socket.emitWithAck('hello', {
      protocolVersion: PROTOCOL_VERSION,
      clientId: this.id,
      taskId: this.options.task,
      backend: this.backendName,
      numExamples: await this.countExamples(),
      eligible: this.eligible(),
    });
    if (!reply.ok) {
      this.emit('error', { code: reply.code, message: reply.message });
      // Not admitted to the task: retrying the same connection cannot help.
      if (reply.code.startsWith('JOIN_TOKEN_') || reply.code === 'IDENTITY_MISMATCH') this.stop();
      return;
    }
    this.introduced.resolve();
    // Still counted in a round this page is not training (a reload, another tab of a closed one):
    // leave it now rather than hold the round until its deadline.
    if (reply.activeRound != null && !this.handling.has(reply.activeRound)) {
      void socket.emitWithAck('withdraw', {
        taskId: this.options.task,
        roundId: reply.activeRound,
        reason: 'this page is not training that round',
      });
    }
    this.setStatus('waiting', `connected; model version ${reply.modelVersion}`);
  }

  private async reportEligibility(): Promise<void> {
    const socket = this.socket;
    if (!socket?.connected) return;
    const reply: Ack = await socket.emitWithAck('eligibility', {
      eligible: this.eligible(),
      numExamples: await this.countExamples(),
    });
    if (!reply.ok) this.emit('error', { code: reply.code, message: reply.message });
  }

  private async loadDemoShard(base: string): Promise<void> {
    const res = await fetch(`${base}/api/tasks/${encodeURIComponent(this.options.task)}/shard/${this.id}`);
    if (!res.ok) throw new Error(`could not load the demo data (${res.status})`);
    const task = await this.taskSpec();
    // The shard is an example set of the task ('PLX1', @pollen/ml's codec), checked against it.
    const set = decodeExampleSet(task, new Uint8Array(await res.arrayBuffer()));
    const xs = inputSize(task.input);
    const ys = labelSize(task);
    const examples = Array.from({ length: set.count }, (_, i) => ({
      x: set.x.subarray(i * xs, (i + 1) * xs),
      y: set.y.subarray(i * ys, (i + 1) * ys),
    }));
    await addTaskExamples(this.options.task, task, examples, 'demo', this.options.quotaBytes);
  }

  private startWorker(): Promise<void> {
    const worker = new Worker(new URL('../worker/trainer.worker.ts', import.meta.url), { type: 'module' });
    this.worker = worker;
    return new Promise((resolve, reject) => {
      worker.onmessage = (event: MessageEvent<WorkerReply>) => {
        const reply = event.data;
        if (reply.type === 'secagg-send' || reply.type === 'secagg-error') {
          this.secagg.fromWorker(reply);
        } else if (reply.type === 'ready') {
          this.backendName = reply.backend;
          this.emit('backend', { backend: reply.backend, skipped: reply.skipped });
          if (reply.recovery) this.rejoin();
          resolve();
        } else if (reply.type === 'progress') {
          this.emit('progress', { ...reply, roundId: this.pending.get(reply.id)?.roundId ?? 0 });
        } else if (reply.type === 'error' && reply.id === null) {
          // Before `ready` the worker could not start; after it, a fallback found no backend left.
          if (this.backendName) this.emit('error', { code: 'CLIENT_ERROR', message: reply.message });
          reject(new Error(reply.message));
        } else if (reply.id !== null) {
          if (reply.type === 'result') {
            this.emit('memory', {
              roundId: this.pending.get(reply.id)?.roundId ?? 0,
              numTensors: reply.numTensors,
              numBytes: reply.numBytes,
            });
          }
          const p = this.pending.get(reply.id);
          this.pending.delete(reply.id);
          p?.resolve(reply);
        }
      };
      worker.onerror = (event) => reject(new Error(event.message));
      worker.postMessage({ type: 'init', preferred: this.options.backend } satisfies WorkerRequest);
    });
  }

  /**
   * SCAFFOLD: keep c_i+ only when the round it was computed in committed, since only then did
   * the server's c take in this device's Delta c_i (Karimireddy et al. 2020, Algorithm 1).
   */
  private async settleControl(roundId: number, committed: boolean): Promise<void> {
    const ci = this.pendingControls.get(roundId);
    if (!ci) return;
    this.pendingControls.delete(roundId);
    if (!committed) return;
    try {
      await storage.saveControl(this.options.task, ci, roundId);
    } catch (err) {
      this.emit('error', {
        code: 'CLIENT_ERROR',
        message: `could not keep SCAFFOLD state: ${(err as Error).message}`,
      });
    }
  }

  private async train(roundId: number, msg: RoundStartMessage, weights: Float32Array): Promise<WorkerReply> {
    const id = ++this.trainSeq;
    const task = this.task!;
    const strategy = msg.strategy ?? { proximalMu: 0, scaffold: false };
    let control: Float32Array | null = null;
    let clientControl: Float32Array | null = null;
    if (strategy.scaffold) {
      if (!msg.control) throw new Error('the round uses SCAFFOLD but sent no control variate');
      control = decodeDense(toBytes(msg.control), { dimension: weights.length }).vector;
      clientControl = await storage.loadControl(msg.taskId, weights.length);
      // Copies: the buffers are transferred to the worker, and the stored one must stay usable.
      control = control.slice();
      clientControl = clientControl?.slice() ?? null;
    }
    const transfer = [weights.buffer, control?.buffer, clientControl?.buffer].filter(
      (b): b is ArrayBuffer => b instanceof ArrayBuffer,
    );
    return new Promise((resolve) => {
      this.pending.set(id, { resolve, roundId });
      this.worker!.postMessage(
        {
          type: 'train',
          id,
          taskId: msg.taskId,
          task,
          training: msg.training,
          cpuShare: this.cpuShare,
          weights: weights.buffer as ArrayBuffer,
          strategy: { proximalMu: strategy.proximalMu, scaffold: strategy.scaffold },
          control: (control?.buffer as ArrayBuffer | undefined) ?? null,
          clientControl: (clientControl?.buffer as ArrayBuffer | undefined) ?? null,
        } satisfies WorkerRequest,
        transfer,
      );
    });
  }

  private async onRound(msg: RoundStartMessage): Promise<void> {
    const socket = this.socket;
    if (!socket || !this.worker) return;
    // The coordinator sends a round's start again to a client that reconnects within its grace
    // period (the first may have been lost with the connection): a round in hand is not trained twice.
    if (this.handling.has(msg.roundId)) return;
    this.emit('selected', {
      taskId: msg.taskId,
      roundId: msg.roundId,
      modelVersion: msg.modelVersion,
      deadline: msg.deadline,
      bytesDown: startBytes(msg),
    });
    this.setStatus('training', `round ${msg.roundId}`);
    this.inFlight.add(msg.roundId);
    this.secagg.start(msg);
    try {
      const { vector } = decodeDense(toBytes(msg.weights));
      const reply = await this.train(msg.roundId, msg, vector);
      if (reply.type !== 'result')
        throw new Error(reply.type === 'error' ? reply.message : 'unexpected reply');
      // No longer eligible: the coordinator took this device out of the round.
      if (this.left.has(msg.roundId)) return;
      this.setStatus('uploading', `round ${msg.roundId}`);
      const raw = new Float32Array(reply.delta);
      // A secure round masks the privatized dense delta in the worker (secagg-relay.ts); any
      // other round encodes its upload with the task's privacy and compression (upload.ts),
      // error feedback's residual coming from IndexedDB.
      const residual =
        !msg.secagg && msg.compression?.errorFeedback
          ? await storage.loadResidual(msg.taskId, raw.length)
          : null;
      const secure = msg.secagg ? (msg.privacy ? privatize(raw, msg.privacy) : null) : undefined;
      const encoded = msg.secagg ? null : encodeRoundUpload(raw, msg, residual);
      const sent = secure === undefined ? (encoded?.privacy ?? null) : secure;
      // FedNova under secure aggregation: mask Delta_i / steps and the steps (fl-core's layout.ts).
      const secureDelta = secure?.update ?? raw;
      const delta = msg.secagg?.steps ? normalizeBySteps(secureDelta, reply.steps) : secureDelta;
      const frame = encoded?.frame ?? new Uint8Array(0);
      const kept = encoded?.residual ?? null;
      const controlFrame = reply.controlDelta
        ? encodeDense(new Float32Array(reply.controlDelta), msg.codec, { round: msg.roundId })
        : null;
      const report = {
        modelVersion: msg.modelVersion,
        numExamples: reply.numExamples,
        backend: this.backendName!,
        ...reply.metrics,
      };
      // A secure round sends no update: the worker masks it and the coordinator sees only the sum.
      const controlDelta = reply.controlDelta ? new Float32Array(reply.controlDelta) : null;
      const ack = msg.secagg
        ? await this.secagg.input(
            msg,
            delta,
            controlDelta,
            sent?.clipBit ?? null,
            report,
            msg.secagg.steps ? reply.steps : null,
          )
        : await socket.emitWithAck('update', {
            taskId: msg.taskId,
            roundId: msg.roundId,
            modelVersion: msg.modelVersion,
            numExamples: reply.numExamples,
            backend: this.backendName!,
            ...reply.metrics,
            steps: reply.steps,
            update: frame,
            ...(controlFrame ? { controlDelta: controlFrame } : {}),
            ...(sent?.clipBit !== undefined ? { clipBit: sent.clipBit } : {}),
          });
      if (!ack.ok) {
        this.emit('error', { code: ack.code, message: ack.message });
      } else {
        if (reply.clientControl) this.pendingControls.set(msg.roundId, new Float32Array(reply.clientControl));
        // What the accepted upload left out is carried to the next one.
        if (!msg.secagg && msg.compression?.errorFeedback)
          await storage.saveResidual(msg.taskId, kept, msg.roundId);
        this.emit('uploaded', {
          roundId: msg.roundId,
          bytes: msg.secagg ? 4 * msg.secagg.words : frame.byteLength + (controlFrame?.byteLength ?? 0),
          numExamples: reply.numExamples,
          ...reply.metrics,
          epsilon: msg.privacy?.epsilonAfter ?? null,
          privacy: msg.privacy && sent ? uploadPrivacy(msg.privacy, sent) : null,
        });
      }
    } catch (err) {
      this.emit('error', { code: 'CLIENT_ERROR', message: (err as Error).message });
      if (socket.connected) {
        await socket.emitWithAck('withdraw', {
          taskId: msg.taskId,
          roundId: msg.roundId,
          reason: (err as Error).message,
        });
      }
    } finally {
      this.inFlight.delete(msg.roundId);
      this.left.delete(msg.roundId);
      if (this.state !== 'stopped') this.setStatus('waiting', `round ${msg.roundId} done`);
    }
  }
}

/** Create a Pollen client for a task; call `start()` once the visitor has agreed to contribute. */
export function createClient(options: ClientOptions): PollenClient {
  return new PollenClient(options);
}

/** Bytes of a round's start message's binary parts: what a device downloads for the round. */
function startBytes(msg: RoundStartMessage): number {
  const size = (b: Binary | undefined): number => (b ? toBytes(b).byteLength : 0);
  return size(msg.weights) + size(msg.control) + size(msg.compression?.coordinates);
}
