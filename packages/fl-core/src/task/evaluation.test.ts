import { describe, expect, it } from 'vitest';
import { clientSpread } from '../spread.ts';
import {
  isHeldOut,
  metricRange,
  parseHeldOutReport,
  parseHeldOutSettings,
  secureEvaluationMeans,
  secureEvaluationWords,
  secureMetricCap,
  splitHeldOut,
  validateEvaluation,
} from './evaluation.ts';

const code = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
};

describe('evaluation on the devices', () => {
  it('takes a held-out fraction from 0 to 0.5; 0 or absent is none', () => {
    expect(validateEvaluation({ heldOutFraction: 0.2 })).toEqual({ heldOutFraction: 0.2 });
    expect(validateEvaluation({ heldOutFraction: 0 })).toBeNull();
    expect(validateEvaluation(undefined)).toBeNull();
    for (const bad of [
      { heldOutFraction: 0.6 },
      { heldOutFraction: -0.1 },
      { heldOutFraction: '0.2' },
      {},
      1,
    ]) {
      expect(code(() => validateEvaluation(bad))).toBe('INVALID_TASK');
    }
    expect(code(() => validateEvaluation({ heldOutFraction: 0.2, every: 3 }))).toBe('INVALID_TASK');
  });

  it('holds out about the fraction of any run of keys, each key always on the same side', () => {
    for (const fraction of [0.1, 0.2, 0.5]) {
      let held = 0;
      for (let key = 1; key <= 10_000; key++) if (isHeldOut(key, fraction)) held++;
      expect(held / 10_000).toBeGreaterThan(fraction - 0.02);
      expect(held / 10_000).toBeLessThan(fraction + 0.02);
    }
    expect(Array.from({ length: 100 }, (_, k) => isHeldOut(k, 0)).some(Boolean)).toBe(false);
    // Nested: what a smaller fraction holds out, a larger one does too.
    for (let key = 0; key < 1000; key++) if (isHeldOut(key, 0.1)) expect(isHeldOut(key, 0.3)).toBe(true);
  });

  it('takes a held-out split: hash (the default, left out of the settings) or the newest with a gap', () => {
    expect(validateEvaluation({ heldOutFraction: 0.2, heldOutSplit: { kind: 'hash' } })).toEqual({
      heldOutFraction: 0.2,
    });
    expect(validateEvaluation({ heldOutFraction: 0.2, heldOutSplit: { kind: 'newest', gap: 10 } })).toEqual({
      heldOutFraction: 0.2,
      heldOutSplit: { kind: 'newest', gap: 10 },
    });
    for (const heldOutSplit of [
      { kind: 'newest' },
      { kind: 'newest', gap: -1 },
      { kind: 'newest', gap: 1.5 },
      { kind: 'newest', gap: Number.NaN },
      { kind: 'newest', gap: 2_000_000 },
      { kind: 'hash', gap: 3 },
      { kind: 'oldest', gap: 3 },
      'newest',
    ]) {
      expect(code(() => validateEvaluation({ heldOutFraction: 0.2, heldOutSplit }))).toBe('INVALID_TASK');
    }
    // The same checks on what a round or an evaluation message carries to a device.
    expect(
      parseHeldOutSettings('evaluation', { heldOutFraction: 0.2, heldOutSplit: { kind: 'newest', gap: 3 } }),
    ).toEqual({
      settings: { heldOutFraction: 0.2, heldOutSplit: { kind: 'newest', gap: 3 } },
      report: true,
    });
    expect(parseHeldOutSettings('evaluation', { heldOutFraction: 0 })).toEqual({
      settings: { heldOutFraction: 0 },
      report: true,
    });
    // No evaluation block: nothing held out, nothing reported.
    expect(parseHeldOutSettings('evaluation', undefined)).toEqual({
      settings: { heldOutFraction: 0 },
      report: false,
    });
    for (const [fraction, split] of [
      [0.7, undefined],
      [Number.NaN, undefined],
      ['0.2', undefined],
      [0.2, { kind: 'newest', gap: -3 }],
      [0.2, null],
    ] as const) {
      expect(
        code(() => parseHeldOutSettings('evaluation', { heldOutFraction: fraction, heldOutSplit: split })),
      ).toBe('INVALID_MESSAGE');
    }
    for (const bad of [null, 0.2, 'evaluation', [0.2]]) {
      expect(code(() => parseHeldOutSettings('evaluation', bad))).toBe('INVALID_MESSAGE');
    }
    // A round that keeps the examples apart without a report says `report: false`, nothing else.
    expect(parseHeldOutSettings('evaluation', { heldOutFraction: 0.2, report: false })).toEqual({
      settings: { heldOutFraction: 0.2 },
      report: false,
    });
    for (const report of [true, 0, 'no', null]) {
      expect(code(() => parseHeldOutSettings('evaluation', { heldOutFraction: 0.2, report }))).toBe(
        'INVALID_MESSAGE',
      );
    }
  });

  it('holds out the newest keys with a gap before them, and never holds out a key once trained on', () => {
    const keys = Array.from({ length: 100 }, (_, i) => 100 - i); // in any order
    const { train, heldOut } = splitHeldOut(keys, 0.2, { kind: 'newest', gap: 5 });
    expect(heldOut).toEqual(Array.from({ length: 20 }, (_, i) => 81 + i));
    expect(train).toEqual(Array.from({ length: 75 }, (_, i) => 1 + i));
    // Examples added one at a time: once the device holds some out, the boundary only moves
    // forward (before that, with too few examples, it trains on all of them).
    const everTrained = new Set<number>();
    let holding = 0;
    for (let n = 1; n <= 300; n++) {
      const split = splitHeldOut(
        Array.from({ length: n }, (_, i) => i + 1),
        0.3,
        { kind: 'newest', gap: 4 },
      );
      if (split.heldOut.length === 0) continue;
      holding++;
      for (const k of split.heldOut) expect(everTrained.has(k)).toBe(false);
      for (const k of split.train) everTrained.add(k);
    }
    expect(holding).toBe(294);
    // Too few examples to hold any out past the gap: train on all, hold none back.
    expect(splitHeldOut([1, 2, 3, 4], 0.25, { kind: 'newest', gap: 3 })).toEqual({
      train: [1, 2, 3, 4],
      heldOut: [],
    });
    // The hash split is what it was without the argument.
    expect(splitHeldOut(keys, 0.2, { kind: 'hash' })).toEqual(splitHeldOut(keys, 0.2));
    expect(splitHeldOut(keys, 0.2).heldOut).toEqual(keys.filter((k) => isHeldOut(k, 0.2)));
  });

  it('knows each metric range', () => {
    expect(metricRange('accuracy')).toEqual([0, 1]);
    expect(metricRange('topKAccuracy@3')).toEqual([0, 1]);
    expect(metricRange('auc')).toEqual([0, 1]);
    expect(metricRange('perplexity')[0]).toBe(1);
    expect(metricRange('mse')).toEqual([0, Number.POSITIVE_INFINITY]);
  });

  it("refuses a report that is not exactly the task's metrics, out of range, or on no examples", () => {
    const metrics = ['accuracy'] as const;
    const good = { metrics: { loss: 0.4, accuracy: 0.9 }, numExamples: 12 };
    expect(parseHeldOutReport('heldOut', good, metrics)).toEqual(good);
    for (const bad of [
      { ...good, metrics: { loss: 0.4 } },
      { ...good, metrics: { loss: 0.4, accuracy: 0.9, mse: 1 } },
      { ...good, metrics: { loss: 0.4, accuracy: 1.5 } },
      { ...good, metrics: { loss: -1, accuracy: 0.5 } },
      { ...good, metrics: { loss: Number.NaN, accuracy: 0.5 } },
      { ...good, numExamples: 0 },
      { ...good, numExamples: 2.5 },
      { metrics: good.metrics },
      'report',
    ]) {
      expect(code(() => parseHeldOutReport('heldOut', bad, metrics))).toBe('INVALID_MESSAGE');
    }
    expect(
      code(() =>
        parseHeldOutReport('heldOut', { metrics: { loss: 2, perplexity: 0.5 }, numExamples: 1 }, [
          'perplexity',
        ]),
      ),
    ).toBe('INVALID_MESSAGE');
  });
});

describe('clientSpread', () => {
  it('weights the mean by examples, interpolates the quartiles and averages the worst tenth by direction', () => {
    const reports = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 0.95].map((value, i) => ({
      value,
      weight: i === 0 ? 10 : 1,
    }));
    const accuracy = clientSpread('accuracy', reports)!;
    expect(accuracy.clients).toBe(11);
    expect(accuracy.mean).toBeCloseTo(
      (0.1 * 10 + 0.2 + 0.3 + 0.4 + 0.5 + 0.6 + 0.7 + 0.8 + 0.9 + 1 + 0.95) / 20,
      12,
    );
    expect([accuracy.min, accuracy.median, accuracy.max]).toEqual([0.1, 0.6, 1]);
    expect(accuracy.q1).toBeCloseTo(0.35, 12);
    // Two clients are the worst tenth of eleven: for accuracy the lowest, for a loss the highest.
    expect(accuracy.worst10).toBeCloseTo(0.15, 12);
    expect(clientSpread('loss', reports)!.worst10).toBeCloseTo(0.975, 12);
    expect(clientSpread('accuracy', [])).toBeNull();
    expect(clientSpread('accuracy', [{ value: 0.5, weight: 3 }])).toMatchObject({
      mean: 0.5,
      worst10: 0.5,
      q3: 0.5,
    });
  });
});

describe('evaluation rounds (evaluation.federated)', () => {
  const federated = { every: 2, cohortSize: 10, minReports: 3, deadlineMs: 30_000 };

  it('keeps a valid block, with or without a sampling rate', () => {
    expect(validateEvaluation({ heldOutFraction: 0.2, federated })).toEqual({
      heldOutFraction: 0.2,
      federated,
    });
    const sampled = { ...federated, samplingRate: 0.01 };
    expect(validateEvaluation({ heldOutFraction: 0.2, federated: sampled })?.federated).toEqual(sampled);
  });

  it('refuses a block the rounds could not run, naming the field', () => {
    const bad: [unknown, string][] = [
      [{ heldOutFraction: 0, federated }, 'heldOutFraction'],
      [{ heldOutFraction: 0.2, federated: { ...federated, minReports: 11 } }, 'minReports'],
      [{ heldOutFraction: 0.2, federated: { ...federated, every: 0 } }, 'every'],
      [{ heldOutFraction: 0.2, federated: { ...federated, samplingRate: 0 } }, 'samplingRate'],
      [{ heldOutFraction: 0.2, federated: { ...federated, deadlineMs: 10 } }, 'deadlineMs'],
      [{ heldOutFraction: 0.2, federated: { ...federated, cohortSize: Number.NaN } }, 'cohortSize'],
      [{ heldOutFraction: 0.2, federated: { ...federated, extra: 1 } }, 'extra'],
    ];
    for (const [value, field] of bad) {
      expect(() => validateEvaluation(value)).toThrow(expect.objectContaining({ code: 'INVALID_TASK' }));
      expect(() => validateEvaluation(value)).toThrow(field);
    }
  });
});

describe('secure evaluation words', () => {
  it('sum to the example-weighted means, each metric over its cap, clipping above it', () => {
    const metrics = ['loss', 'accuracy'];
    const reports = [
      { metrics: { loss: 0.5, accuracy: 0.9 }, numExamples: 3 },
      { metrics: { loss: 1.5, accuracy: 0.4 }, numExamples: 1 },
      null,
    ];
    const sum = new Float32Array(3);
    for (const r of reports) {
      const words = secureEvaluationWords(r, metrics, 10);
      for (const [i, w] of words.entries()) {
        expect(Math.abs(w)).toBeLessThanOrEqual(1);
        sum[i]! += w;
      }
    }
    expect(secureMetricCap('accuracy')).toBe(1);
    expect(secureMetricCap('loss')).toBe(100);
    const means = secureEvaluationMeans(sum, metrics)!;
    expect(means.loss).toBeCloseTo((0.5 * 3 + 1.5) / 4, 6);
    expect(means.accuracy).toBeCloseTo((0.9 * 3 + 0.4) / 4, 6);
    // No held-out examples anywhere: no means.
    expect(secureEvaluationMeans(secureEvaluationWords(null, metrics, 10), metrics)).toBeNull();
    // A loss above its cap counts as the cap.
    const clipped = secureEvaluationWords(
      { metrics: { loss: 500, accuracy: 0 }, numExamples: 2 },
      metrics,
      2,
    );
    expect(secureEvaluationMeans(clipped, metrics)!.loss).toBeCloseTo(100, 4);
    expect(() => secureEvaluationWords({ metrics: { loss: 1 }, numExamples: 1 }, metrics, 1)).toThrow(
      'accuracy',
    );
  });
});
