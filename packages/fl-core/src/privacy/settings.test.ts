import { describe, expect, it } from 'vitest';
import { PollenError } from '../errors.ts';
import { validatePrivacySettings } from './settings.ts';

const distributed = { mode: 'distributed', noiseMultiplier: 1, clipNorm: 0.5, delta: 1e-5, epsilonBudget: 8 };
const adaptive = { targetQuantile: 0.5, learningRate: 0.2, initialClip: 0.1 };

function refusal(input: unknown): PollenError {
  try {
    validatePrivacySettings(input);
  } catch (err) {
    if (err instanceof PollenError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('validatePrivacySettings', () => {
  it('accepts and normalizes the three modes', () => {
    expect(validatePrivacySettings({ ...distributed, extra: true })).toEqual(distributed);
    expect(validatePrivacySettings({ ...distributed, clipNorm: undefined, adaptive })).toEqual({
      mode: 'distributed',
      noiseMultiplier: 1,
      adaptive,
      delta: 1e-5,
      epsilonBudget: 8,
    });
    const local = { mode: 'local', clipNorm: 1, epsilonPerReport: 2, delta: 1e-6, epsilonBudget: 10 };
    expect(validatePrivacySettings(local)).toEqual(local);
    expect(validatePrivacySettings({ mode: 'off', noiseMultiplier: Number.NaN })).toEqual({ mode: 'off' });
    expect(validatePrivacySettings({ mode: 'off', clipNorm: 2 })).toEqual({ mode: 'off', clipNorm: 2 });
  });

  it('is idempotent', () => {
    const once = validatePrivacySettings({
      ...distributed,
      clipNorm: undefined,
      adaptive: { ...adaptive, bitNoiseStd: 5 },
    });
    expect(validatePrivacySettings(JSON.parse(JSON.stringify(once)))).toEqual(once);
  });

  it.each([
    [
      'NaN noise multiplier',
      { noiseMultiplier: Number.NaN },
      '"privacy.noiseMultiplier" expected non-negative finite number, got NaN',
    ],
    [
      'negative noise multiplier',
      { noiseMultiplier: -0.5 },
      '"privacy.noiseMultiplier" expected non-negative finite number, got -0.5',
    ],
    [
      'zero noise in distributed mode',
      { noiseMultiplier: 0 },
      '"privacy.noiseMultiplier" is 0 in mode "distributed"',
    ],
    ['delta of 1', { delta: 1 }, '"privacy.delta" expected number in (0, 1), got 1'],
    ['delta above 1', { delta: 1.5 }, '"privacy.delta" expected number in (0, 1), got 1.5'],
    ['delta of 0', { delta: 0 }, '"privacy.delta" expected number in (0, 1), got 0'],
    ['NaN delta', { delta: Number.NaN }, '"privacy.delta" expected number in (0, 1), got NaN'],
    ['string delta', { delta: '1e-5' }, '"privacy.delta" expected number in (0, 1), got string'],
    ['zero budget', { epsilonBudget: 0 }, '"privacy.epsilonBudget" expected positive finite number, got 0'],
    [
      'negative budget',
      { epsilonBudget: -3 },
      '"privacy.epsilonBudget" expected positive finite number, got -3',
    ],
    [
      'NaN budget',
      { epsilonBudget: Number.NaN },
      '"privacy.epsilonBudget" expected positive finite number, got NaN',
    ],
    [
      'infinite budget',
      { epsilonBudget: Number.POSITIVE_INFINITY },
      '"privacy.epsilonBudget" expected positive finite number, got Infinity',
    ],
    ['zero clip norm', { clipNorm: 0 }, '"privacy.clipNorm" expected positive finite number, got 0'],
    [
      'NaN clip norm',
      { clipNorm: Number.NaN },
      '"privacy.clipNorm" expected positive finite number, got NaN',
    ],
    ['no clip at all', { clipNorm: undefined }, '"privacy" expected "clipNorm" or "adaptive"'],
    ['both clips', { adaptive }, '"privacy" expected either "clipNorm" or "adaptive", not both'],
    [
      'unknown mode',
      { mode: 'central' },
      '"privacy.mode" expected one of off, distributed, local, ftrl, got "central"',
    ],
    [
      'quantile of 1',
      { clipNorm: undefined, adaptive: { ...adaptive, targetQuantile: 1 } },
      '"privacy.adaptive.targetQuantile" expected number in (0, 1), got 1',
    ],
    [
      'quantile of 0',
      { clipNorm: undefined, adaptive: { ...adaptive, targetQuantile: 0 } },
      '"privacy.adaptive.targetQuantile" expected number in (0, 1), got 0',
    ],
    [
      'NaN learning rate',
      { clipNorm: undefined, adaptive: { ...adaptive, learningRate: Number.NaN } },
      '"privacy.adaptive.learningRate" expected positive finite number, got NaN',
    ],
    [
      'negative initial clip',
      { clipNorm: undefined, adaptive: { ...adaptive, initialClip: -1 } },
      '"privacy.adaptive.initialClip" expected positive finite number, got -1',
    ],
    [
      'bit noise too small',
      { noiseMultiplier: 2, clipNorm: undefined, adaptive: { ...adaptive, bitNoiseStd: 1 } },
      '"privacy.adaptive.bitNoiseStd" (1) must exceed noiseMultiplier / 2 (1)',
    ],
  ])('refuses %s', (_, override, message) => {
    const err = refusal({ ...distributed, ...override });
    expect(err.code).toBe('INVALID_TASK');
    expect(err.message).toContain(message);
  });

  it.each([
    ['a missing block', undefined, '"privacy" expected object, got undefined'],
    [
      'adaptive clipping in local mode',
      { mode: 'local', adaptive, epsilonPerReport: 1, delta: 1e-5, epsilonBudget: 5 },
      'not available in mode "local"',
    ],
    [
      'a local report above the budget',
      { mode: 'local', clipNorm: 1, epsilonPerReport: 6, delta: 1e-5, epsilonBudget: 5 },
      '"privacy.epsilonPerReport" (6) exceeds "privacy.epsilonBudget" (5)',
    ],
    [
      'a local mode without per-report epsilon',
      { mode: 'local', clipNorm: 1, delta: 1e-5, epsilonBudget: 5 },
      '"privacy.epsilonPerReport" expected positive finite number, got undefined',
    ],
    [
      'a bad clip norm in mode off',
      { mode: 'off', clipNorm: -1 },
      '"privacy.clipNorm" expected positive finite number, got -1',
    ],
  ])('refuses %s', (_, input, message) => {
    const err = refusal(input);
    expect(err.code).toBe('INVALID_TASK');
    expect(err.message).toContain(message);
  });
});

describe('validatePrivacySettings: mode "ftrl"', () => {
  const ftrl = {
    mode: 'ftrl',
    clipNorm: 1,
    noiseMultiplier: 2,
    delta: 1e-5,
    epsilonBudget: 8,
    minSeparation: 4,
  };

  it('accepts it with restartEvery defaulting to 0 (one tree)', () => {
    expect(validatePrivacySettings(ftrl)).toEqual({ ...ftrl, restartEvery: 0 });
    expect(validatePrivacySettings({ ...ftrl, restartEvery: 64 })).toEqual({ ...ftrl, restartEvery: 64 });
  });

  it('refuses what cannot work, naming the field', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...ftrl, minSeparation: undefined }, /minSeparation" is required/],
      [{ ...ftrl, minSeparation: 0 }, /minSeparation/],
      [{ ...ftrl, minSeparation: 1.5 }, /minSeparation/],
      [{ ...ftrl, restartEvery: -1 }, /restartEvery/],
      [{ ...ftrl, noiseMultiplier: 0 }, /is 0 in mode "ftrl"/],
      [{ ...ftrl, clipNorm: undefined }, /clipNorm/],
      [{ ...ftrl, clipNorm: undefined, adaptive }, /adaptive" is not available in mode "ftrl"/],
      [{ ...ftrl, delta: 1 }, /delta/],
    ];
    for (const [input, message] of cases) {
      const err = refusal(input);
      expect(err.code).toBe('INVALID_TASK');
      expect(err.message).toMatch(message);
    }
  });
});
