import { formatMetricValues, type OperatorEvaluationRound, type OperatorRound } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import {
  compressionRatio,
  downloadCompressionRatio,
  fiveNumbers,
  formatBytes,
  heldOutText,
  heldOutTile,
  metricNames,
  quantile,
  totals,
} from './stats.ts';

const round = (fields: Partial<OperatorRound>): OperatorRound => ({
  taskId: 't',
  roundId: 1,
  status: 'committed',
  baseVersion: 0,
  newVersion: 1,
  selected: 2,
  reported: 2,
  dropped: 0,
  rejected: 0,
  deadlineHit: false,
  startedAt: 0,
  endedAt: 1,
  metrics: { loss: 1, accuracy: 0.5 },
  bytesUp: 0,
  bytesDown: 0,
  backends: {},
  clientMetrics: [],
  reason: null,
  ...fields,
});

describe('dashboard statistics', () => {
  it('quantiles interpolate like R type 7 (Hyndman and Fan 1996)', () => {
    // R: quantile(c(1, 2, 3, 4), c(0, .25, .5, .75, 1)) gives 1, 1.75, 2.5, 3.25, 4.
    expect([0, 0.25, 0.5, 0.75, 1].map((q) => quantile([1, 2, 3, 4], q))).toEqual([1, 1.75, 2.5, 3.25, 4]);
    expect(quantile([7], 0.3)).toBe(7);
    expect(() => quantile([], 0.5)).toThrow(/at least one value/);
    expect(() => quantile([1], 1.5)).toThrow(/"q" expected a number in \[0, 1\], got 1.5/);
  });

  it('five numbers are ordered and bound the sample', () => {
    for (const values of [[0.5], [0.9, 0.1], [0.3, 0.3, 0.3], [0.2, 0.8, 0.4, 0.6, 1, 0]]) {
      const f = fiveNumbers(values)!;
      expect(f.min).toBeLessThanOrEqual(f.q1);
      expect(f.q1).toBeLessThanOrEqual(f.median);
      expect(f.median).toBeLessThanOrEqual(f.q3);
      expect(f.q3).toBeLessThanOrEqual(f.max);
      expect(f.min).toBe(Math.min(...values));
      expect(f.max).toBe(Math.max(...values));
    }
    expect(fiveNumbers([0.2, 0.8, 0.4, 0.6, 1, 0])!.median).toBeCloseTo(0.5);
    expect(fiveNumbers([])).toBeNull();
  });

  it('compares the bytes sent with dense float32 updates of every reported client', () => {
    const rounds = [round({ reported: 2, bytesUp: 400 }), round({ reported: 1, bytesUp: 200 })];
    // 3 updates of 100 parameters, 1,200 dense bytes, sent as 600: half the size.
    expect(compressionRatio(rounds, 100)).toBe(2);
    expect(compressionRatio([round({ reported: 0, bytesUp: 0 })], 100)).toBeNull();
  });

  it('measures downloads against a dense float32 model for each selected client', () => {
    const rounds = [round({ selected: 3, bytesDown: 1200 }), round({ selected: 3, bytesDown: 300 })];
    // 6 models of 100 parameters, 2,400 dense bytes, sent as 1,500 (a whole model, then deltas).
    expect(downloadCompressionRatio(rounds, 100)).toBe(1.6);
    expect(downloadCompressionRatio([round({ selected: 0, bytesDown: 0 })], 100)).toBeNull();
  });

  it('adds up rounds for the tiles and prints bytes in binary units', () => {
    const t = totals([
      round({ bytesUp: 10, bytesDown: 20 }),
      round({ status: 'abandoned', deadlineHit: true, bytesUp: 1, bytesDown: 2 }),
    ]);
    expect(t).toEqual({ committed: 1, abandoned: 1, bytesUp: 11, bytesDown: 22, deadlineHits: 1 });
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(3 * 1024 * 1024)).toBe('3.0 MiB');
  });

  it('lists the metrics the rounds carry, loss first, each once, in the order they appear', () => {
    const client = (metrics: Record<string, number>) => ({
      metrics,
      trainMs: 1,
      numExamples: 1,
      backend: 'cpu' as const,
    });
    const rounds = [
      round({ metrics: null, clientMetrics: [client({ loss: 2, mae: 1 })] }),
      round({ metrics: { loss: 1, mse: 0.5, mae: 0.4 }, clientMetrics: [client({ loss: 1, rmse: 0.7 })] }),
    ];
    expect(metricNames(rounds)).toEqual(['loss', 'mae', 'mse', 'rmse']);
    expect(metricNames([])).toEqual(['loss']);
    expect(formatMetricValues({ loss: 0.31, accuracy: 0.91234 })).toBe('accuracy 0.9123, loss 0.3100');
    expect(formatMetricValues(null)).toBeNull();
  });

  it('says whether a committed round is not evaluated yet (or skipped) or had no held-out data', () => {
    expect(heldOutText(round({}))).toBe('accuracy 0.5000, loss 1.0000');
    expect(heldOutText(round({ metrics: null }))).toBe('not evaluated');
    expect(heldOutText(round({ metrics: null, evaluationMs: 12 }))).toBe('no held-out data');
  });

  it('shows the newest evaluated committed round on the held-out tile, not a newer one still waiting', () => {
    const evaluated = round({ roundId: 1, newVersion: 1 });
    const waiting = round({ roundId: 2, baseVersion: 1, newVersion: 2, metrics: null });
    const abandoned = round({ roundId: 3, status: 'abandoned', metrics: null });
    expect(heldOutTile([evaluated, waiting, abandoned])).toBe('accuracy 0.5000, loss 1.0000 (version 1)');
    expect(heldOutTile([waiting])).toBe('not evaluated');
    expect(heldOutTile([abandoned])).toBe('-');
    expect(heldOutTile([])).toBe('-');
  });

  it("shows the clients' own held-out figure on the tile of a task with no held-out data", () => {
    const spread = {
      clients: 2,
      mean: 0.7,
      min: 0.6,
      q1: 0.65,
      median: 0.7,
      q3: 0.75,
      max: 0.8,
      worst10: 0.6,
    };
    const onDevices = {
      version: 3,
      clients: 2,
      numExamples: 40,
      metrics: { loss: 0.9, accuracy: 0.7 },
      distribution: { accuracy: spread },
    };
    const r = round({ roundId: 4, baseVersion: 3, newVersion: 4, metrics: null, evaluationMs: 5, onDevices });
    expect(heldOutTile([r])).toBe("accuracy 0.7000, loss 0.9000 on 2 clients' held-out examples (version 3)");
    // With held-out data on the coordinator, its figure stays the tile's.
    expect(heldOutTile([round({ onDevices, newVersion: 4 })])).toBe(
      'accuracy 0.5000, loss 1.0000 (version 4)',
    );
    // An evaluation round that counted is the devices' figure of the newest version it scored;
    // one with too few reports is not.
    const evaluation = (
      evaluationId: number,
      status: OperatorEvaluationRound['status'],
      version: number,
    ) => ({
      taskId: 'tiny',
      evaluationId,
      version,
      status,
      selected: 3,
      eligible: 3,
      sampling: { rate: 1, clamped: 'none' as const },
      minReports: 2,
      reported: 3,
      dropped: 0,
      rejected: 0,
      deadlineHit: false,
      startedAt: 0,
      endedAt: 1,
      bytesDown: 0,
      bytesUp: 0,
      federatedEvaluation: { ...onDevices, version, clients: 3 },
      reason: null,
    });
    expect(heldOutTile([r], [evaluation(1, 'complete', 4), evaluation(2, 'insufficient', 5)])).toBe(
      'accuracy 0.7000, loss 0.9000 across 3 devices (federated evaluation of version 4)',
    );
    expect(heldOutTile([round({ newVersion: 4 })], [evaluation(1, 'complete', 4)])).toBe(
      'accuracy 0.5000, loss 1.0000 (version 4)',
    );
  });
});
