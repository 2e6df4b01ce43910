import type { Ack, Backend, ContributorAuth, EligibilityVerdict } from '@pollen/fl-core';
import { type DeviceMemory, type ModelCache, Participant } from '@pollen/participation';
import { type ClientOptions, type ResolvedOptions, resolveOptions } from './client-options.ts';
import { Connection } from './connection.ts';
import { checkCpuShare, effectiveCpuShare } from './cpu-share.ts';
import { DeviceConditions } from './eligibility.ts';
import { TaskEntries } from './entries.ts';
import { type ClientEvents, type ClientStatus, Emitter } from './events.ts';
import { type AddExamplesResult, addTaskExamples, type ExampleInput } from './examples.ts';
import { frozenBaseFor } from './frozen-base.ts';
import { SecAggRelay } from './secagg-relay.ts';
import * as storage from './storage.ts';
import { type ClientTask, fetchTask, loadDemoShard } from './task-info.ts';
import { acquireTrainerLock, type ReleaseLock } from './trainer-lock.ts';
import { WorkerTrainer } from './worker-trainer.ts';

/** SCAFFOLD's c_i and error feedback's residual, kept in this browser's IndexedDB (storage.ts). */
const BROWSER_MEMORY: DeviceMemory = {
  loadControl: storage.loadControl,
  saveControl: storage.saveControl,
  loadResidual: storage.loadResidual,
  saveResidual: storage.saveResidual,
};

/** Each task's last broadcast model, for compressed downloads, in IndexedDB (storage.ts). */
const BROWSER_MODELS: ModelCache = {
  load: storage.loadModel,
  save: storage.saveModel,
  clear: storage.clearModel,
};

/**
 * A contributor: keeps its examples in IndexedDB, trains in a Web Worker, and takes part in
 * the coordinator's rounds over Socket.io.
 */
export class PollenClient extends Emitter<ClientEvents> {
  readonly options: ResolvedOptions;
  /** Local training in a Web Worker, from start() until stop(). */
  private worker: WorkerTrainer | null = null;
  /** The connection to the coordinator, from start() until stop(). */
  private connection: Connection | null = null;
  private backendName: Backend | null = null;
  private task: ClientTask | null = null;
  private id = '';
  private secret = '';
  private state: ClientStatus = 'idle';
  /** This device's part in rounds (@pollen/participation), from start() on. */
  private participant: Participant | null = null;
  /** Set from start() until stop(): aborting it ends a start still waiting or loading. */
  private session: AbortController | null = null;
  private releaseLock: ReleaseLock | null = null;
  private background: boolean;
  /** Resolved once the coordinator acknowledged this connection's hello; renewed on each disconnect. */
  /** The worker changed backend during a round: rejoin once the round's upload is done. */
  private rejoinPending = false;
  /** The task's eligibility conditions as this device meets them (eligibility.ts). */
  private readonly conditions: DeviceConditions;
  /** The visitor's CPU share, before the task's cap. */
  private visitorCpuShare: number;
  /** Leaving the page leaves the coordinator at once, rather than after its reconnection grace. */
  private readonly onPageHide = (): void => this.stop();
  /** Secure rounds: relays between the coordinator and the worker, which runs SecAgg+. */
  private readonly secagg = new SecAggRelay(
    () => this.worker,
    (e) => this.emit('error', e),
  );

  constructor(options: ClientOptions) {
    super();
    this.options = resolveOptions(options);
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
  }

  /** The coordinator's origin, without a trailing slash. */
  private get base(): string {
    return this.options.url.replace(/\/$/, '');
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
    return effectiveCpuShare(this.visitorCpuShare, this.task?.cpuShareCap ?? 1);
  }

  /** The task's cap on the CPU share (1 until the task is loaded). */
  get cpuShareCap(): number {
    return this.task?.cpuShareCap ?? 1;
  }

  /** Lower (or raise, up to the task's cap) the CPU share training may use, from the next round. */
  setCpuShare(share: number): void {
    this.visitorCpuShare = checkCpuShare(share);
    this.emit('cpuShare', { share: this.cpuShare, cap: this.task?.cpuShareCap ?? 1 });
  }

  /**
   * A condition changed: tell the coordinator at once. A device no longer eligible is taken
   * out of its round by the coordinator (as when the tab is hidden); it does not send that
   * round's update.
   */
  private onEligibility(verdict: EligibilityVerdict): void {
    if (!verdict.eligible) this.participant?.leaveRounds();
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

  /** Remove what this device downloaded for the task and kept (a fine-tuning task's frozen base). */
  clearDownloads(): Promise<void> {
    return storage.clearBases(this.options.task);
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
  private async taskSpec(): Promise<ClientTask> {
    this.task ??= await fetchTask(this.base, this.options.task);
    return this.task;
  }

  /** Remove every example of the task from this device, and what was learnt from them (c_i). */
  async clearExamples(): Promise<void> {
    await storage.clearExamples(this.options.task);
    await storage.clearEntries(this.options.task);
    await storage.clearControl(this.options.task);
    await storage.clearResidual(this.options.task);
    await storage.clearModel(this.options.task);
    await this.reportEligibility();
  }

  /**
   * Take part in rounds until stopped: wait for this browser's trainer lock (one tab trains at
   * a time; the others report `standby`), choose a backend, load the demo shard if asked,
   * connect and say hello, again after every reconnection, with the same client id.
   */
  async start(): Promise<void> {
    if (this.connection || this.session) return;
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
    this.participant = this.participate();
    const base = this.base;
    const { demoData } = await this.taskSpec();
    if (signal.aborted) return;
    this.emit('cpuShare', { share: this.cpuShare, cap: this.task?.cpuShareCap ?? 1 });
    await this.conditions.watch(this.task?.eligibility ?? null);
    if (signal.aborted) return;
    await this.startWorker(signal);
    // A task without demo data has only what this device's visitor or host page adds.
    if (this.options.demoData && demoData && (await this.exampleCounts()).demo === 0) {
      await loadDemoShard(base, this.options.task, this.id, await this.taskSpec(), this.options.quotaBytes);
    }
    if (signal.aborted) return;

    this.setStatus('connecting', base);
    const connection = new Connection(base, {
      auth: () => this.handshakeAuth(),
      fallbackAuth: () => ({ clientId: this.id, secret: this.secret }),
      error: (e) => this.emit('error', e),
      refused: () => this.stop(),
      connected: () => void this.hello(),
      disconnected: (reason) => {
        if (this.state !== 'stopped') this.setStatus('connecting', `disconnected (${reason}), reconnecting`);
      },
    });
    this.connection = connection;
    const socket = connection.socket;
    socket.on('round:start', (msg) => {
      if (this.worker) void this.participant?.roundStart(msg);
    });
    socket.on('eval:start', (msg) => {
      if (this.worker) void this.participant?.evaluationStart(msg);
    });
    this.secagg.attach(socket);
    socket.on('round:end', (msg) => {
      void this.participant?.roundEnd(msg);
      this.emit('roundEnd', { roundId: msg.roundId, status: msg.status, modelVersion: msg.modelVersion });
      if (this.rejoinPending) this.rejoin();
    });
    socket.on('pollen:error', (err) => this.emit('error', err));
    globalThis.addEventListener?.('pagehide', this.onPageHide);
  }

  /**
   * The worker fell back to another backend: say hello again on a fresh connection, so the
   * coordinator counts this device under the backend it trains on now. A round in flight ends
   * first (its upload, then the coordinator's word on it).
   */
  private rejoin(): void {
    this.rejoinPending =
      this.participant?.busy === true || this.state === 'training' || this.state === 'uploading';
    if (!this.rejoinPending) this.connection?.reconnect();
  }

  /** Leave: disconnect and stop training. Local examples stay until cleared. */
  stop(): void {
    this.session?.abort();
    this.session = null;
    this.conditions.stop();
    globalThis.removeEventListener?.('pagehide', this.onPageHide);
    // Rounds whose end this client will not hear of: nothing is sent for them, no c_i+ kept.
    this.participant?.reset();
    this.connection?.close();
    this.connection = null;
    this.worker?.terminate();
    this.worker = null;
    this.backendName = null;
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
    const socket = this.connection?.socket;
    const participant = this.participant;
    if (!socket || !participant || !this.backendName) return;
    const model = await participant.cachedModel(this.options.task);
    const hello = participant.hello(this.options.task, await this.countExamples(), this.eligible(), model);
    const reply = await socket.emitWithAck('hello', hello);
    if (!reply.ok) {
      this.emit('error', { code: reply.code, message: reply.message });
      // Not admitted to the task: retrying the same connection cannot help.
      if (reply.code.startsWith('JOIN_TOKEN_') || reply.code === 'IDENTITY_MISMATCH') this.stop();
      return;
    }
    this.connection?.admitted();
    void participant.admitted(reply);
    this.setStatus('waiting', `connected; model version ${reply.modelVersion}`);
  }

  private async reportEligibility(): Promise<void> {
    const socket = this.connection?.socket;
    if (!socket?.connected) return;
    const reply: Ack = await socket.emitWithAck('eligibility', {
      eligible: this.eligible(),
      numExamples: await this.countExamples(),
    });
    if (!reply.ok) this.emit('error', { code: reply.code, message: reply.message });
  }

  private async startWorker(signal: AbortSignal): Promise<void> {
    const task = await this.taskSpec();
    const worker = await WorkerTrainer.start(
      task,
      this.options.backend,
      () => this.cpuShare,
      {
        backend: ({ backend, skipped, recovery }) => {
          this.backendName = backend;
          this.emit('backend', { backend, skipped });
          if (recovery) this.rejoin();
        },
        progress: (p) => this.emit('progress', p),
        memory: (m) => this.emit('memory', m),
        error: (message) => this.emit('error', { code: 'CLIENT_ERROR', message }),
        secagg: (reply) => this.secagg.fromWorker(reply),
      },
      (ref) => frozenBaseFor(this.base, this.options.task, ref),
    );
    // Stopped while the worker started: it must not outlive this client.
    if (signal.aborted) worker.terminate();
    else this.worker = worker;
  }

  /** This device's part in rounds: participation with the worker, IndexedDB and this page's socket. */
  private participate(): Participant {
    return new Participant({
      clientId: this.id,
      link: () => this.connection?.link ?? null,
      backend: () => this.backendName ?? 'cpu',
      trainer: {
        train: (input) => {
          if (!this.worker) throw new Error('stopped');
          return this.worker.train(input);
        },
        evaluate: (input) => {
          if (!this.worker) throw new Error('stopped');
          return this.worker.evaluate(input);
        },
      },
      memory: BROWSER_MEMORY,
      models: BROWSER_MODELS,
      secure: this.secagg,
      events: {
        selected: (msg, bytesDown) => {
          const { taskId, roundId, modelVersion, deadline } = msg;
          this.emit('selected', { taskId, roundId, modelVersion, deadline, bytesDown });
          this.setStatus('training', `round ${roundId}`);
        },
        refetched: (msg, bytesDown) => this.emit('refetched', { roundId: msg.roundId, bytesDown }),
        uploading: (msg) => this.setStatus('uploading', `round ${msg.roundId}`),
        uploaded: (u) =>
          this.emit('uploaded', {
            roundId: u.msg.roundId,
            bytes: u.bytes,
            numExamples: u.numExamples,
            ...u.metrics,
            epsilon: u.msg.privacy?.epsilonAfter ?? null,
            privacy: u.privacy,
          }),
        answered: (_msg, ack) => {
          if (!ack.ok) this.emit('error', { code: ack.code, message: ack.message });
        },
        evaluated: (msg, heldOut, ack, bytesDown) => {
          if (!ack.ok) this.emit('error', { code: ack.code, message: ack.message });
          else
            this.emit('evaluated', {
              evaluationId: msg.evaluationId,
              modelVersion: msg.modelVersion,
              heldOut,
              bytesDown,
            });
        },
        error: (e) => this.emit('error', e),
        done: (msg) => {
          if (this.state !== 'stopped') this.setStatus('waiting', `round ${msg.roundId} done`);
        },
      },
    });
  }
}

/** Create a Pollen client for a task; call `start()` once the visitor has agreed to contribute. */
export function createClient(options: ClientOptions): PollenClient {
  return new PollenClient(options);
}
