import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatMetricValues, legacyMetricValues, parseMetricValues } from './metric-values.ts';

const refusal = (input: unknown): string => {
  try {
    parseMetricValues('metrics', input);
    return 'ok';
  } catch (err) {
    return `${(err as { code: string }).code}: ${(err as Error).message}`;
  }
};

describe('named metrics', () => {
  it('refuses a bad map with INVALID_MESSAGE naming the field', () => {
    expect(refusal(null)).toBe('INVALID_MESSAGE: "metrics" expected object, got null');
    expect(refusal({ accuracy: 1 })).toMatch(
      /^INVALID_MESSAGE: "metrics.loss" expected a non-negative number/,
    );
    expect(refusal({ loss: -0.5 })).toMatch(/"metrics.loss" expected a non-negative number, got -0.5/);
    expect(refusal({ loss: 1, mse: Number.POSITIVE_INFINITY })).toMatch(
      /"metrics.mse" expected a finite number/,
    );
    expect(refusal({ loss: 1, mae: '0.1' })).toMatch(/"metrics.mae" expected a finite number/);
    expect(refusal({ loss: 1, 'top k': 1 })).toMatch(/"metrics" has a metric named "top k"/);
    expect(refusal({ loss: 1, __proto__x: 1 })).toMatch(/has a metric named/);
    const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`m${i}`, i]));
    expect(refusal({ loss: 1, ...many })).toMatch(/has 18 metrics, at most 16/);
    expect(parseMetricValues('m', { loss: 0.5, top5Accuracy: 0.9 })).toEqual({
      loss: 0.5,
      top5Accuracy: 0.9,
    });
  });

  it('keeps every well-formed map as it is', () => {
    const name = fc.stringMatching(/^[a-z][A-Za-z0-9_]{0,12}$/);
    const value = fc.double({ min: -1e6, max: 1e6, noNaN: true });
    fc.assert(
      fc.property(
        fc.dictionary(name, value, { maxKeys: 10 }),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        (rest, loss) => {
          const metrics = { ...rest, loss };
          expect(parseMetricValues('m', metrics)).toEqual(metrics);
        },
      ),
    );
  });

  it('reads records from before named metrics and prints maps loss last', () => {
    expect(legacyMetricValues(0.5, 1.25)).toEqual({ loss: 1.25, accuracy: 0.5 });
    expect(legacyMetricValues(null, 1.25)).toEqual({ loss: 1.25 });
    expect(legacyMetricValues(null, null)).toBeNull();
    expect(formatMetricValues({ loss: 0.25, mse: 0.125 }, 3)).toBe('mse 0.125, loss 0.250');
    expect(formatMetricValues(null)).toBeNull();
  });
});
