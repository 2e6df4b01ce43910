import { performance } from 'node:perf_hooks';
import type { FastifyBaseLogger } from 'fastify';
import type { Evaluated, RoundRecord, Store } from '../store/types.ts';

/** What scores a weight vector on held-out data: a task's model (ml/evaluator.ts), or a test's stand-in. */
export interface Evaluator {
  evaluate(weights: Float32Array): Promise<Evaluated>;
}

/** A version's evaluation attached: its round record as it now stands (undefined for version 0). */
export interface VersionEvaluated {
  readonly taskId: string;
  readonly version: number;
  readonly metrics: Evaluated;
  readonly evaluationMs: number;
  readonly record: RoundRecord | undefined;
}

export interface EvaluationsDeps {
  readonly store: Pick<Store, 'attachEvaluation'>;
  readonly evaluator: Evaluator;
  readonly log: FastifyBaseLogger;
  readonly onEvaluated: (evaluated: VersionEvaluated) => void;
  /** A version was passed over for a newer one: its metrics stay null ("not evaluated"). */
  readonly onSkipped: (taskId: string, version: number) => void;
}

/**
 * A task's held-out evaluations, off the commit path (docs/design.md, "Evaluation off the
 * commit path"): a commit hands its version over and returns; the evaluation runs after and
 * attaches its metrics to the version and its round record. One runs at a time per task; of
 * the versions that arrive meanwhile only the newest waits, the ones it overtook are skipped.
 * So at most two weight vectors are held (the one evaluated and the one waiting), whatever the
 * commit rate.
 */
export class VersionEvaluations {
  private waiting: { readonly version: number; readonly weights: Float32Array } | null = null;
  private running: Promise<void> | null = null;
  /** The newest version handed over so far. */
  private newest = -1;
  private stopped = false;

  constructor(
    readonly taskId: string,
    private readonly deps: EvaluationsDeps,
  ) {}

  /** Evaluate `version` when the evaluator is free, unless a newer version arrives first. */
  submit(version: number, weights: Float32Array): void {
    // A version no newer than one already taken is not evaluated after it.
    if (this.stopped || version <= this.newest) return;
    this.newest = version;
    if (this.waiting) {
      this.deps.log.info(
        { task: this.taskId, version: this.waiting.version, newer: version },
        'evaluation skipped',
      );
      this.deps.onSkipped(this.taskId, this.waiting.version);
    }
    this.waiting = { version, weights };
    this.running ??= this.drain();
  }

  /** Resolves once nothing is evaluated or waiting. */
  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  /**
   * Start no more evaluations; resolves once the one running has attached its metrics. A
   * version still waiting keeps null metrics; the next start evaluates the current version if
   * it has none.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.waiting) {
      this.deps.log.info(
        { task: this.taskId, version: this.waiting.version },
        'evaluation left for the next start',
      );
      this.waiting = null;
    }
    await this.running;
  }

  private async drain(): Promise<void> {
    while (this.waiting && !this.stopped) {
      const { version, weights } = this.waiting;
      this.waiting = null;
      try {
        const started = performance.now();
        const metrics = await this.deps.evaluator.evaluate(weights);
        const evaluationMs = Math.round((performance.now() - started) * 1000) / 1000;
        const record = await this.deps.store.attachEvaluation(this.taskId, version, metrics, evaluationMs);
        this.deps.log.info({ task: this.taskId, version, metrics, evaluationMs }, 'version evaluated');
        this.deps.onEvaluated({ taskId: this.taskId, version, metrics, evaluationMs, record });
      } catch (err) {
        // The version stays committed with null metrics; the next one is evaluated as usual.
        this.deps.log.error({ err, task: this.taskId, version }, 'held-out evaluation failed');
      }
    }
    this.running = null;
  }
}
