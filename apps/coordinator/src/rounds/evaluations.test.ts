import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite.ts';
import type { Evaluated } from '../store/types.ts';
import { resolveTaskInput } from '../task-file.ts';
import { record } from '../testing/store-backends.ts';
import { type Evaluator, type VersionEvaluated, VersionEvaluations } from './evaluations.ts';

/** An evaluator the test answers: each call waits until the test resolves (or fails) it. */
class HeldEvaluator implements Evaluator {
  readonly calls: { weights: Float32Array; resolve: (m: Evaluated) => void; reject: (e: Error) => void }[] =
    [];

  evaluate(weights: Float32Array): Promise<Evaluated> {
    return new Promise((resolve, reject) => this.calls.push({ weights, resolve, reject }));
  }

  /** Let the event loop run the scheduler's next steps (store writes, the next evaluation). */
  static async settle(): Promise<void> {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  }
}

const dirs: string[] = [];
const stores: SqliteStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A real SQLite store with a task whose versions 1..n are committed without metrics. */
async function storeWithVersions(n: number): Promise<SqliteStore> {
  const dir = mkdtempSync(join(tmpdir(), 'pollen-evaluations-'));
  dirs.push(dir);
  const store = new SqliteStore(dir);
  stores.push(store);
  const spec = await resolveTaskInput({ id: 'tiny', model: { kind: 'mlp', hidden: [8] } });
  await store.createTask(spec, [{ name: 'w', shape: [2] }], new Float32Array(2), null);
  for (let r = 1; r <= n; r++) {
    const open = record('tiny', r, { selected: 1, startedAt: r });
    await store.openRound(open);
    await store.commitRound(
      { ...open, status: 'committed', newVersion: r, endedAt: r },
      Float32Array.of(r, r),
    );
  }
  return store;
}

function scheduler(store: SqliteStore, evaluator: Evaluator) {
  const evaluated: VersionEvaluated[] = [];
  const skipped: number[] = [];
  const evaluations = new VersionEvaluations('tiny', {
    store,
    evaluator,
    log: pino({ level: 'silent' }),
    onEvaluated: (e) => evaluated.push(e),
    onSkipped: (_task, version) => skipped.push(version),
  });
  return { evaluations, evaluated, skipped };
}

describe('held-out evaluation off the commit path', () => {
  it('evaluates one version at a time, the newest next, skipping the ones it fell behind on', async () => {
    const store = await storeWithVersions(4);
    const evaluator = new HeldEvaluator();
    const { evaluations, evaluated, skipped } = scheduler(store, evaluator);
    evaluations.submit(1, Float32Array.of(1, 1));
    expect(evaluator.calls).toHaveLength(1);
    // Three commits while version 1 is evaluated: only the newest waits.
    evaluations.submit(2, Float32Array.of(2, 2));
    evaluations.submit(3, Float32Array.of(3, 3));
    evaluations.submit(4, Float32Array.of(4, 4));
    expect(skipped).toEqual([2, 3]);
    expect(evaluator.calls).toHaveLength(1);
    evaluator.calls[0]!.resolve({ loss: 0.9, accuracy: 0.6 });
    await HeldEvaluator.settle();
    expect(evaluated.map((e) => e.version)).toEqual([1]);
    expect(evaluated[0]!.record).toMatchObject({ roundId: 1, metrics: { loss: 0.9, accuracy: 0.6 } });
    expect(evaluated[0]!.record!.evaluationMs).toBeGreaterThanOrEqual(0);
    // Then version 4, with its own weights.
    expect(evaluator.calls).toHaveLength(2);
    expect(Array.from(evaluator.calls[1]!.weights)).toEqual([4, 4]);
    evaluator.calls[1]!.resolve({ loss: 0.5, accuracy: 0.8 });
    await evaluations.idle();
    const versions = await store.listVersions('tiny');
    expect(versions.map((v) => v.metrics?.accuracy ?? null)).toEqual([null, 0.6, null, null, 0.8]);
    const rounds = await store.listRounds('tiny');
    // Skipped versions: no metrics and no evaluation time ("not evaluated").
    expect(rounds.map((r) => [r.metrics?.accuracy ?? null, r.evaluationMs === undefined])).toEqual([
      [0.6, false],
      [null, true],
      [null, true],
      [0.8, false],
    ]);
    // An older version handed over late is not evaluated after a newer one.
    evaluations.submit(3, Float32Array.of(3, 3));
    await evaluations.idle();
    expect(evaluator.calls).toHaveLength(2);
  });

  it('keeps going after a failed evaluation, leaving that version unevaluated', async () => {
    const store = await storeWithVersions(2);
    const evaluator = new HeldEvaluator();
    const { evaluations, evaluated } = scheduler(store, evaluator);
    evaluations.submit(1, Float32Array.of(1, 1));
    evaluator.calls[0]!.reject(new Error('the evaluator thread died'));
    await evaluations.idle();
    evaluations.submit(2, Float32Array.of(2, 2));
    // A task without held-out data: null metrics, yet evaluated (evaluationMs set).
    evaluator.calls[1]!.resolve(null);
    await evaluations.idle();
    expect(evaluated.map((e) => e.version)).toEqual([2]);
    expect((await store.listVersions('tiny')).map((v) => v.metrics)).toEqual([null, null, null]);
    const rounds = await store.listRounds('tiny');
    expect(rounds[0]!.evaluationMs).toBeUndefined();
    expect(rounds[1]).toMatchObject({ metrics: null, evaluationMs: expect.any(Number) });
  });

  it('on stop, finishes the evaluation running, drops the one waiting and takes no more', async () => {
    const store = await storeWithVersions(3);
    const evaluator = new HeldEvaluator();
    const { evaluations, evaluated } = scheduler(store, evaluator);
    evaluations.submit(1, Float32Array.of(1, 1));
    evaluations.submit(2, Float32Array.of(2, 2));
    let stopped = false;
    const stopping = evaluations.stop().then(() => {
      stopped = true;
    });
    await HeldEvaluator.settle();
    expect(stopped).toBe(false);
    evaluator.calls[0]!.resolve({ loss: 2 });
    await stopping;
    evaluations.submit(3, Float32Array.of(3, 3));
    await evaluations.idle();
    expect(evaluator.calls).toHaveLength(1);
    expect(evaluated.map((e) => e.version)).toEqual([1]);
  });
});
