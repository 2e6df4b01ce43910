import { encodeDense } from '@pollen/compression';
import {
  type EvaluationReportMessage,
  type EvaluationStartMessage,
  type FederatedEvaluationSettings,
  type HeldOutReport,
  hashSeed,
  heldOutSettings,
  metricKey,
  type OnDevices,
  onDevices,
  PollenError,
  poissonCohort,
  type Rng,
  secureEvaluationMeans,
  type TaskSpec,
} from '@pollen/fl-core';
import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../clock.ts';
import type { EvaluationRecord, Fence, Store, StoredTask } from '../store/types.ts';
import type { Contributor, Population } from './population.ts';
import { SecAggRound } from './secagg-round.ts';

/**
 * Secure evaluation rounds run their SecAgg+ stages under round ids of their own, above every
 * training round's (ids count from 1 per task): evaluation round `id` is `SECURE_ROUND_BASE + id`.
 */
export const SECURE_ROUND_BASE = 2 ** 31;
/**
 * The fixed-point range of a secure evaluation's words: each is a metric over its cap times a
 * share of the cohort's examples (fl-core's secureEvaluationWords), so at most 1.
 */
const SECURE_WORD_RANGE = 1;

export interface FederatedEvaluationDeps {
  readonly store: Pick<
    Store,
    'getTask' | 'getVersion' | 'saveEvaluation' | 'listEvaluations' | 'nextEvaluationId'
  >;
  readonly population: Population;
  readonly log: FastifyBaseLogger;
  readonly clock: Clock;
  readonly rng: Rng;
  /** Every record as it opens and as it closes. */
  readonly onRecord: (record: EvaluationRecord) => void;
  /** In a cluster, the fence of the task's lease; every write carries it. */
  readonly fence: () => Fence | undefined;
  /** Whether this node runs the task's rounds: always alone; in a cluster, while it holds the lease. */
  readonly leading: () => boolean;
}

/** The settings of a task's evaluation rounds; null: it runs none. */
export function federatedSettings(spec: TaskSpec): FederatedEvaluationSettings | null {
  return spec.evaluation?.federated ?? null;
}

/** Whether a committed version is one a task's evaluation rounds score: every `every` versions, from 0. */
export function evaluationDue(spec: TaskSpec, version: number): boolean {
  const settings = federatedSettings(spec);
  return settings !== null && version % settings.every === 0;
}

/** An evaluation round in flight. */
interface OpenEvaluation {
  readonly id: number;
  readonly version: number;
  readonly settings: FederatedEvaluationSettings;
  readonly selected: ReadonlySet<string>;
  /** Clients that answered (reported, declined, refused) or dropped. */
  readonly settled: Set<string>;
  readonly reports: HeldOutReport[];
  readonly startedAt: number;
  readonly eligible: number;
  readonly sampling: EvaluationRecord['sampling'];
  readonly bytesDown: number;
  bytesUp: number;
  rejected: number;
  cancelTimer: () => void;
  /**
   * Under secure aggregation: the SecAgg+ round the devices' masked reports go through, the
   * scale their words are divided by, and the metric names in the order of the words.
   */
  readonly secure: {
    readonly round: SecAggRound;
    readonly scale: number;
    readonly metrics: readonly string[];
  } | null;
  /** Under secure aggregation, once unmasked: the totals (no report of any one device exists). */
  totals: OnDevices | null;
}

/**
 * A task's federated evaluation rounds (docs/design.md, "Evaluation rounds"): every
 * `evaluation.federated.every` committed versions, a Poisson-sampled cohort of idle devices
 * scores that version on its held-out examples and reports metrics only. One runs at a time per
 * task; a newer due version replaces one still waiting for devices. Its devices are busy
 * meanwhile (training rounds select among the rest), so evaluation never holds a training round
 * back: it only takes devices no round had. A device that leaves, becomes ineligible or misses
 * the deadline is dropped; the round counts with at least `minReports` reports.
 */
export class FederatedEvaluation {
  private waiting: { readonly version: number; readonly weights: Float32Array } | null = null;
  private open: OpenEvaluation | null = null;
  private starting = false;
  private stopped = false;
  private nextId: number | null = null;
  private saves: Promise<void> = Promise.resolve();

  constructor(
    readonly taskId: string,
    private readonly deps: FederatedEvaluationDeps,
  ) {}

  /** A version was committed: evaluate it when it is due and devices are free. */
  committed(spec: TaskSpec, version: number, weights: Float32Array): void {
    if (this.stopped || !evaluationDue(spec, version)) return;
    if (this.waiting && this.waiting.version < version) {
      this.deps.log.info(
        { task: this.taskId, version: this.waiting.version, newer: version },
        'evaluation round skipped',
      );
    }
    if (!this.waiting || this.waiting.version < version) this.waiting = { version, weights };
    this.poke();
  }

  /**
   * On starting (or taking the task's lease): the current version is evaluated if it is due
   * and no evaluation round of it was recorded. Ids are read again from the store.
   */
  async resume(task: StoredTask): Promise<void> {
    this.nextId = null;
    if (!evaluationDue(task.spec, task.currentVersion)) return;
    const last = (await this.deps.store.listEvaluations(this.taskId, { latest: 1 }))[0];
    if (last && last.version >= task.currentVersion && last.status !== 'abandoned') return;
    const version = await this.deps.store.getVersion(this.taskId, task.currentVersion);
    if (version) this.committed(task.spec, version.version, version.weights);
  }

  /** Devices may have become free, or a version due: start the waiting evaluation if it can. */
  poke(): void {
    if (this.stopped || this.open || this.starting || !this.waiting) return;
    this.starting = true;
    this.start()
      .catch((err: unknown) =>
        this.deps.log.error({ err, task: this.taskId }, 'evaluation round failed to start'),
      )
      .finally(() => {
        this.starting = false;
      });
  }

  private async start(): Promise<void> {
    const { store, population, clock } = this.deps;
    const task = await store.getTask(this.taskId);
    const settings = task ? federatedSettings(task.spec) : null;
    if (!task || !settings || task.status === 'stopped' || !this.deps.leading()) {
      this.waiting = null;
      return;
    }
    if (population.available(this.taskId).length < settings.minReports) return;
    this.nextId ??= await store.nextEvaluationId(this.taskId);
    // Training may have taken some of them while the store answered.
    const idle = population.available(this.taskId);
    const waiting = this.waiting;
    if (this.stopped || this.open || !waiting || idle.length < settings.minReports) return;
    const { cohort, clamped, rate } = poissonCohort(
      idle,
      {
        rate: settings.samplingRate ?? 1,
        overSelection: 1,
        minCohort: settings.minReports,
        maxCohort: settings.cohortSize,
      },
      this.deps.rng,
    );
    const id = this.nextId++;
    this.waiting = null;
    const startedAt = clock.now();
    const deadline = startedAt + settings.deadlineMs;
    const weights = encodeDense(waiting.weights, task.spec.codec, {
      round: id,
      taskTag: hashSeed(this.taskId),
    });
    const message: EvaluationStartMessage = {
      taskId: this.taskId,
      evaluationId: id,
      modelVersion: waiting.version,
      deadline,
      weights,
      ...heldOutSettings(task.spec.evaluation!),
    };
    const secure = task.spec.secureAggregation
      ? this.startSecure(task.spec, id, waiting.version, cohort, settings, startedAt)
      : null;
    const open: OpenEvaluation = {
      id,
      version: waiting.version,
      settings,
      selected: new Set(cohort.map((c) => c.clientId)),
      settled: new Set(),
      reports: [],
      startedAt,
      eligible: idle.length,
      sampling: { rate, clamped },
      bytesDown: weights.byteLength * cohort.length,
      bytesUp: 0,
      rejected: 0,
      // A secure round keeps its own time: its mask stage closes at the deadline, the unmask after.
      cancelTimer: secure
        ? () => {}
        : clock.setTimeout(() => this.guarded(() => this.close('deadline')), settings.deadlineMs),
      secure,
      totals: null,
    };
    this.open = open;
    for (const c of cohort) c.activeEvaluation = id;
    population.touch();
    this.save(this.record(open, 'open', null));
    this.deps.log.info(
      {
        task: this.taskId,
        evaluation: id,
        version: open.version,
        selected: cohort.length,
        secure: secure !== null,
      },
      'evaluation round started',
    );
    for (const c of cohort) {
      const own = secure
        ? {
            ...message,
            secure: {
              roundId: secure.round.roundId,
              scale: secure.scale,
              metrics: secure.metrics,
              secagg: secure.round.secAggFor(c.clientId),
            },
          }
        : message;
      c.send('eval:start', own);
    }
    if (secure) void secure.round.closed.then(() => this.guarded(() => this.closeSecure(open)));
  }

  /**
   * The SecAgg+ round of a secure evaluation: each device masks, per metric, metric x held-out
   * examples / scale, then held-out examples / scale, so the sum holds the example-weighted
   * totals and nothing of any one device. The scale is the examples the cohort said it holds,
   * so every word is at most its metric and the counts sum to at most 1.
   */
  private startSecure(
    spec: TaskSpec,
    id: number,
    version: number,
    cohort: readonly Contributor[],
    settings: FederatedEvaluationSettings,
    startedAt: number,
  ): OpenEvaluation['secure'] {
    const metrics = ['loss', ...spec.metrics.map(metricKey)];
    const round = new SecAggRound({
      taskId: this.taskId,
      roundId: SECURE_ROUND_BASE + id,
      baseVersion: version,
      dimension: metrics.length + 1,
      selected: cohort.map((c) => c.clientId),
      target: cohort.length,
      minReports: settings.minReports,
      deadlineMs: settings.deadlineMs - (this.deps.clock.now() - startedAt),
      settings: { ...spec.secureAggregation!, range: SECURE_WORD_RANGE },
      send: (clientId, event, payload) => this.deps.population.byClientId(clientId)?.send(event, payload),
      clock: this.deps.clock,
      log: this.deps.log.child({ task: this.taskId, evaluation: id }),
    });
    return { round, scale: cohort.reduce((n, c) => n + c.numExamples, 0), metrics };
  }

  /** The secure evaluation round whose SecAgg+ stages run under `roundId`, while it is open. */
  secureRound(roundId: number): SecAggRound | undefined {
    const secure = this.open?.secure;
    return secure?.round.roundId === roundId ? secure.round : undefined;
  }

  /** A secure evaluation's SecAgg+ round settled: the totals if it unmasked them, then the record. */
  private closeSecure(open: OpenEvaluation): void {
    if (this.open !== open) return;
    const { round, scale, metrics } = open.secure!;
    if (round.failure === null) {
      const sum = round.summed();
      const means = secureEvaluationMeans(sum, metrics);
      if (means) {
        open.totals = {
          version: open.version,
          clients: round.reportedCount,
          numExamples: Math.round(sum[metrics.length]! * scale),
          metrics: means,
          distribution: {},
        };
      }
    }
    open.bytesUp = round.record().bytesUp;
    this.close(round.reason === 'deadline' ? 'deadline' : 'all-accounted', round.failure);
  }

  /**
   * A device's report. Refused with a code: a round not open (ROUND_CLOSED), a device not asked
   * (NOT_IN_ROUND), a second answer (REPLAY), another version (STALE_MODEL), more held-out
   * examples than the device said it holds (INVALID_MESSAGE); a refusal after membership counts
   * in the record's `rejected`, and the device may still answer correctly before the deadline.
   * The metrics' names and ranges were checked with the envelope (messages.ts).
   */
  report(contributor: Contributor, msg: EvaluationReportMessage, bytes: number): void {
    const open = this.open;
    if (open?.id !== msg.evaluationId) {
      throw new PollenError('ROUND_CLOSED', `evaluation round ${msg.evaluationId} is not open`);
    }
    if (!open.selected.has(contributor.clientId)) {
      throw new PollenError('NOT_IN_ROUND', `client was not asked in evaluation round ${open.id}`);
    }
    if (open.settled.has(contributor.clientId)) {
      throw new PollenError('REPLAY', `evaluation round ${open.id} already has this client's answer`);
    }
    if (open.secure) {
      throw new PollenError(
        'INVALID_MESSAGE',
        `evaluation round ${open.id} is securely aggregated: its report goes masked, in round ${open.secure.round.roundId}'s stages`,
      );
    }
    open.bytesUp += bytes;
    const held = msg.heldOut;
    if (msg.modelVersion !== open.version) {
      open.rejected++;
      throw new PollenError(
        'STALE_MODEL',
        `evaluation round ${open.id} scores version ${open.version}, not ${msg.modelVersion}`,
      );
    }
    if (held && held.numExamples > contributor.numExamples) {
      open.rejected++;
      throw new PollenError(
        'INVALID_MESSAGE',
        `"heldOut.numExamples" (${held.numExamples}) exceeds the ${contributor.numExamples} examples this client said it holds`,
      );
    }
    if (held) open.reports.push(held);
    this.settle(open, contributor.clientId);
    this.closeIfSettled(open);
  }

  /** A device of the open round left, became ineligible or withdrew: it will not report. */
  drop(clientId: string): void {
    const open = this.open;
    if (!open?.selected.has(clientId) || open.settled.has(clientId)) return;
    if (open.secure) {
      // The SecAgg+ round decides when its stages stop waiting; the device is free meanwhile.
      open.secure.round.drop(clientId);
      this.settle(open, clientId);
      return;
    }
    this.settle(open, clientId);
    this.closeIfSettled(open);
  }

  /** The evaluation round open now, as its record stands. */
  openRecord(): EvaluationRecord | null {
    return this.open ? this.record(this.open, 'open', null) : null;
  }

  /** Stop: an open evaluation round is abandoned; resolves once its record is written. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.waiting = null;
    if (this.open) this.close('stopped');
    await this.saves;
  }

  private settle(open: OpenEvaluation, clientId: string): void {
    open.settled.add(clientId);
    const c = this.deps.population.byClientId(clientId);
    if (c?.activeEvaluation === open.id) {
      c.activeEvaluation = null;
      this.deps.population.touch();
    }
  }

  private closeIfSettled(open: OpenEvaluation): void {
    if (this.open === open && open.settled.size === open.selected.size) this.close('all-accounted');
  }

  /** Reports in the round's figures: each plain one, or the devices whose masked reports were summed. */
  private reported(open: OpenEvaluation): number {
    return open.secure ? (open.totals?.clients ?? 0) : open.reports.length;
  }

  private close(reason: 'all-accounted' | 'deadline' | 'stopped', failure: string | null = null): void {
    const open = this.open;
    if (!open) return;
    this.open = null;
    open.cancelTimer();
    if (reason === 'stopped') open.secure?.round.close('stopped');
    for (const clientId of open.selected) if (!open.settled.has(clientId)) this.settle(open, clientId);
    const reported = this.reported(open);
    const status =
      reason === 'stopped' ? 'abandoned' : reported >= open.settings.minReports ? 'complete' : 'insufficient';
    const why =
      status === 'abandoned'
        ? 'the coordinator stopped'
        : status === 'insufficient'
          ? (failure ?? `${reported} of the ${open.settings.minReports} reports it needs`)
          : null;
    const record = this.record(open, status, why, reason === 'deadline');
    this.deps.log.info(
      {
        task: this.taskId,
        evaluation: open.id,
        version: open.version,
        status,
        reported,
      },
      'evaluation round closed',
    );
    this.save(record);
    this.poke();
  }

  private record(
    open: OpenEvaluation,
    status: EvaluationRecord['status'],
    reason: string | null,
    deadlineHit = false,
  ): EvaluationRecord {
    const closed = status !== 'open';
    const reported = this.reported(open);
    return {
      taskId: this.taskId,
      evaluationId: open.id,
      version: open.version,
      status,
      selected: open.selected.size,
      eligible: open.eligible,
      sampling: open.sampling,
      minReports: open.settings.minReports,
      reported,
      dropped: closed ? open.selected.size - reported : open.settled.size - reported,
      rejected: open.rejected,
      deadlineHit,
      startedAt: open.startedAt,
      endedAt: closed ? this.deps.clock.now() : null,
      bytesDown: open.bytesDown,
      bytesUp: open.bytesUp,
      federatedEvaluation: open.secure ? open.totals : onDevices(open.version, open.reports),
      ...(open.secure ? { secure: true } : {}),
      reason,
    };
  }

  /** Run a timer's or a settled round's work: a failure is logged, never thrown into the event loop. */
  private guarded(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.deps.log.error({ err, task: this.taskId }, 'evaluation round failed to close');
    }
  }

  /** Write records in order, and tell the feed once each is durable. */
  private save(record: EvaluationRecord): void {
    this.saves = this.saves
      .then(() => this.deps.store.saveEvaluation(record, this.deps.fence()))
      .then(
        () => this.deps.onRecord(record),
        (err: unknown) =>
          this.deps.log.error(
            { err, task: this.taskId, evaluation: record.evaluationId },
            'evaluation record not written',
          ),
      );
  }
}
