import { describe, expect, it } from 'vitest';
import { PollenError } from '../errors.ts';
import type { CompatibilityInput } from './config.ts';
import { checkCompatibility, validateStrategyConfig } from './config.ts';

/** Expect INVALID_TASK with a message matching `message`. */
function refused(fn: () => unknown, message: RegExp | string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(PollenError);
  expect((caught as PollenError).code).toBe('INVALID_TASK');
  if (typeof message === 'string') expect((caught as PollenError).message).toBe(message);
  else expect((caught as PollenError).message).toMatch(message);
}

const open: Omit<CompatibilityInput, 'strategy'> = { secureAggregation: false, persistentClientState: true };

describe('validateStrategyConfig', () => {
  it('fills FedAvg defaults for a missing or empty block', () => {
    const expected = {
      name: 'fedavg',
      serverLr: 1,
      momentum: 0,
      beta1: 0,
      beta2: 0,
      tau: 0,
      mu: 0,
      scaffold: false,
      fednova: false,
      serverSchedule: { kind: 'constant' },
      robust: { kind: 'none' },
      staleness: { exponent: 0.5, maxStaleness: 10 },
    };
    expect(validateStrategyConfig(undefined)).toEqual(expected);
    expect(validateStrategyConfig({})).toEqual(expected);
  });

  it('fills per-optimizer defaults', () => {
    expect(validateStrategyConfig({ name: 'fedavgm' })).toMatchObject({ serverLr: 1, momentum: 0.9 });
    expect(validateStrategyConfig({ name: 'fedadam' })).toMatchObject({
      serverLr: 0.01,
      beta1: 0.9,
      beta2: 0.99,
      tau: 1e-3,
    });
    expect(validateStrategyConfig({ name: 'fedadagrad' })).toMatchObject({ beta1: 0, beta2: 0, tau: 1e-3 });
  });

  it('keeps explicit settings', () => {
    const config = validateStrategyConfig({
      name: 'fedyogi',
      serverLr: 0.05,
      beta1: 0.5,
      beta2: 0.9,
      tau: 0.01,
      mu: 0.1,
      scaffold: true,
      fednova: true,
      serverSchedule: { kind: 'exponential', decay: 0.9 },
      robust: { kind: 'none' },
      staleness: { exponent: 1, maxStaleness: 2 },
    });
    expect(config).toEqual({
      name: 'fedyogi',
      serverLr: 0.05,
      momentum: 0,
      beta1: 0.5,
      beta2: 0.9,
      tau: 0.01,
      mu: 0.1,
      scaffold: true,
      fednova: true,
      serverSchedule: { kind: 'exponential', decay: 0.9 },
      robust: { kind: 'none' },
      staleness: { exponent: 1, maxStaleness: 2 },
    });
    expect(validateStrategyConfig({ robust: { kind: 'multi-krum', f: 2, m: 5 } }).robust).toEqual({
      kind: 'multi-krum',
      f: 2,
      m: 5,
    });
    expect(validateStrategyConfig({ robust: { kind: 'multi-krum', f: 2 } }).robust).toEqual({
      kind: 'multi-krum',
      f: 2,
    });
  });

  it('takes a checked config back as input and returns it unchanged (stored tasks validate again)', () => {
    const blocks: unknown[] = [
      undefined,
      { name: 'fedavgm', momentum: 0.5 },
      { name: 'fedadam', serverLr: 0.03, mu: 0.01 },
      { name: 'fedyogi' },
      { name: 'fedadagrad', tau: 0.01 },
      { scaffold: true, serverLr: 0.5 },
      { robust: { kind: 'trimmed-mean', beta: 0.2 } },
      { robust: { kind: 'multi-krum', f: 2, m: 4 } },
      { robust: { kind: 'norm-bound', bound: 3 } },
      { staleness: { exponent: 1, maxStaleness: 3 } },
    ];
    for (const block of blocks) {
      const checked = validateStrategyConfig(block);
      expect(validateStrategyConfig(JSON.parse(JSON.stringify(checked)))).toEqual(checked);
    }
    // Zero is the only value an inapplicable parameter may carry.
    expect(validateStrategyConfig({ name: 'fedadam', momentum: 0 }).momentum).toBe(0);
  });

  it('refuses an unknown strategy', () => {
    refused(
      () => validateStrategyConfig({ name: 'fedsgd' }),
      '"strategy.name" expected one of fedavg, fedavgm, fedadam, fedyogi, fedadagrad, got "fedsgd"',
    );
    refused(
      () => validateStrategyConfig({ robust: { kind: 'bulyan' } }),
      /"strategy.robust.kind" expected one of/,
    );
    refused(() => validateStrategyConfig('fedavg'), /"strategy" expected object/);
  });

  it('refuses a negative mu', () => {
    refused(
      () => validateStrategyConfig({ mu: -1 }),
      '"strategy.mu" expected non-negative finite number, got -1',
    );
  });

  it('refuses a trimmed-mean beta of 0.5 or more, or a missing one', () => {
    refused(
      () => validateStrategyConfig({ robust: { kind: 'trimmed-mean', beta: 0.5 } }),
      '"strategy.robust.beta" expected finite number in [0, 0.5), got 0.5',
    );
    refused(() => validateStrategyConfig({ robust: { kind: 'trimmed-mean' } }), /"strategy.robust.beta"/);
  });

  it('refuses NaN or Infinity anywhere', () => {
    const blocks: Record<string, unknown>[] = [
      { serverLr: Number.NaN },
      { name: 'fedavgm', momentum: Number.NaN },
      { name: 'fedadam', beta1: Number.NaN },
      { name: 'fedadam', beta2: Number.NaN },
      { name: 'fedadam', tau: Number.POSITIVE_INFINITY },
      { mu: Number.NaN },
      { robust: { kind: 'trimmed-mean', beta: Number.NaN } },
      { robust: { kind: 'krum', f: Number.NaN } },
      { robust: { kind: 'multi-krum', f: 1, m: Number.NaN } },
      { robust: { kind: 'norm-bound', bound: Number.POSITIVE_INFINITY } },
      { staleness: { exponent: Number.NaN } },
      { staleness: { maxStaleness: Number.NaN } },
    ];
    for (const block of blocks) refused(() => validateStrategyConfig(block), /expected .*got (NaN|Infinity)/);
  });

  it('refuses unknown keys, so a typo cannot silently fall back to a default', () => {
    refused(() => validateStrategyConfig({ serverLR: 0.5 }), /"strategy.serverLR" is not a known setting/);
    refused(
      () => validateStrategyConfig({ robust: { kind: 'median', fraction: 0.1 } }),
      /"strategy.robust.fraction"/,
    );
    refused(() => validateStrategyConfig({ staleness: { a: 1 } }), /"strategy.staleness.a"/);
  });

  it('refuses a setting the chosen algorithm does not have', () => {
    refused(
      () => validateStrategyConfig({ name: 'fedadam', momentum: 0.9 }),
      '"strategy.momentum" does not apply to "fedadam" (only to fedavgm)',
    );
    refused(() => validateStrategyConfig({ beta1: 0.9 }), /"strategy.beta1" does not apply to "fedavg"/);
    refused(() => validateStrategyConfig({ name: 'fedadagrad', beta2: 0.9 }), /"strategy.beta2"/);
    refused(
      () => validateStrategyConfig({ robust: { kind: 'median', beta: 0.1 } }),
      /"strategy.robust.beta"/,
    );
    refused(() => validateStrategyConfig({ robust: { kind: 'krum', f: 1, m: 2 } }), /"strategy.robust.m"/);
  });

  it('refuses other out-of-range values', () => {
    refused(() => validateStrategyConfig({ serverLr: 0 }), /"strategy.serverLr"/);
    refused(() => validateStrategyConfig({ name: 'fedavgm', momentum: 1 }), /"strategy.momentum"/);
    refused(
      () => validateStrategyConfig({ scaffold: 'yes' }),
      '"strategy.scaffold" expected boolean, got string',
    );
    refused(() => validateStrategyConfig({ robust: { kind: 'krum', f: 1.5 } }), /"strategy.robust.f"/);
    refused(
      () => validateStrategyConfig({ robust: { kind: 'norm-bound', bound: 0 } }),
      /"strategy.robust.bound"/,
    );
    refused(() => validateStrategyConfig({ staleness: { exponent: -1 } }), /"strategy.staleness.exponent"/);
  });
});

describe('checkCompatibility', () => {
  it('returns the checked config for a workable task', () => {
    expect(checkCompatibility({ ...open, strategy: { robust: { kind: 'median' } } }).robust).toEqual({
      kind: 'median',
    });
    expect(
      checkCompatibility({
        strategy: { scaffold: true },
        secureAggregation: true,
        persistentClientState: true,
      }).scaffold,
    ).toBe(true);
    expect(
      checkCompatibility({ ...open, strategy: { robust: { kind: 'krum', f: 2 } }, minReports: 7 }).robust,
    ).toEqual({ kind: 'krum', f: 2 });
  });

  it('refuses robust aggregation with secure aggregation', () => {
    for (const robust of [
      { kind: 'median' },
      { kind: 'trimmed-mean', beta: 0.1 },
      { kind: 'norm-bound', bound: 1 },
    ]) {
      refused(
        () => checkCompatibility({ ...open, secureAggregation: true, strategy: { robust } }),
        /needs every client's update, but secure aggregation reveals only their sum/,
      );
    }
  });

  it('refuses SCAFFOLD without persistent client state', () => {
    refused(
      () => checkCompatibility({ ...open, persistentClientState: false, strategy: { scaffold: true } }),
      /SCAFFOLD keeps a control variate on each client between rounds, but this task has no persistent client state/,
    );
  });

  it('refuses FedNova with robust aggregation, and with a local Adam optimizer', () => {
    expect(() =>
      checkCompatibility({ ...open, strategy: { fednova: true, robust: { kind: 'median' } } }),
    ).toThrow(/FedNova.*robust/);
    expect(() =>
      checkCompatibility({ ...open, strategy: { fednova: true }, localOptimizer: 'adam' }),
    ).toThrow(/FedNova.*"sgd"/);
    expect(() => validateStrategyConfig({ fednova: 'yes' })).toThrow(/"strategy.fednova" expected boolean/);
    expect(() => validateStrategyConfig({ serverSchedule: { kind: 'exponential', decay: 2 } })).toThrow(
      /strategy.serverSchedule.decay/,
    );
  });

  it('refuses SCAFFOLD with robust aggregation, and with a local Adam optimizer', () => {
    refused(
      () => checkCompatibility({ ...open, strategy: { scaffold: true, robust: { kind: 'median' } } }),
      /control-variate deltas are averaged/,
    );
    refused(
      () => checkCompatibility({ ...open, strategy: { scaffold: true }, localOptimizer: 'adam' }),
      /set training.optimizer to "sgd"/,
    );
  });

  it('refuses Krum with a quorum of at most 2f + 2, and Multi-Krum m above quorum - f', () => {
    refused(
      () => checkCompatibility({ ...open, strategy: { robust: { kind: 'krum', f: 2 } }, minReports: 6 }),
      /needs at least 7 reports per round \(n > 2f \+ 2\), but rounds.minReports is 6/,
    );
    refused(
      () =>
        checkCompatibility({
          ...open,
          strategy: { robust: { kind: 'multi-krum', f: 1, m: 5 } },
          minReports: 5,
        }),
      '"strategy.robust.m" (5) cannot exceed rounds.minReports - f (4)',
    );
  });

  it('refuses the validation failures too: negative mu, beta >= 0.5, unknown strategy, NaN', () => {
    refused(() => checkCompatibility({ ...open, strategy: { mu: -0.1 } }), /"strategy.mu"/);
    refused(
      () => checkCompatibility({ ...open, strategy: { robust: { kind: 'trimmed-mean', beta: 0.6 } } }),
      /"strategy.robust.beta"/,
    );
    refused(() => checkCompatibility({ ...open, strategy: { name: 'fedfoo' } }), /"strategy.name"/);
    refused(() => checkCompatibility({ ...open, strategy: { serverLr: Number.NaN } }), /got NaN/);
    refused(
      () => checkCompatibility({ ...open, secureAggregation: 'no' as unknown as boolean, strategy: {} }),
      /expected booleans/,
    );
  });
});
