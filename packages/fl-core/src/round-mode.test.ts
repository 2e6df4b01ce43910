import { describe, expect, it } from 'vitest';
import { PollenError } from './errors.ts';
import { checkRoundModeCompatibility, validateRoundSchedule } from './round-mode.ts';
import { validateStrategyConfig } from './strategies/config.ts';

const cohort = { cohortSize: 10, overSelection: 1.3 };

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PollenError);
    expect((err as PollenError).code).toBe('INVALID_TASK');
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('validateRoundSchedule', () => {
  it('defaults to one synchronous round at a time, and validates again to itself', () => {
    const schedule = validateRoundSchedule({}, cohort);
    expect(schedule).toEqual({ mode: 'sync', maxInFlight: 1, bufferSize: 0, concurrency: 0 });
    expect(validateRoundSchedule({ ...schedule }, cohort)).toEqual(schedule);
    expect(validateRoundSchedule({ maxInFlight: 3 }, cohort).maxInFlight).toBe(3);
  });

  it('fills buffered mode from the cohort: K = cohortSize, concurrency = ceil(cohortSize * overSelection)', () => {
    const schedule = validateRoundSchedule({ mode: 'buffered' }, cohort);
    expect(schedule).toEqual({ mode: 'buffered', maxInFlight: 1, bufferSize: 10, concurrency: 13 });
    expect(validateRoundSchedule({ ...schedule }, cohort)).toEqual(schedule);
  });

  it('refuses out-of-range and misplaced fields, naming them', () => {
    expect(refusal(() => validateRoundSchedule({ maxInFlight: 0 }, cohort))).toMatch(/rounds.maxInFlight/);
    expect(refusal(() => validateRoundSchedule({ maxInFlight: 17 }, cohort))).toMatch(/rounds.maxInFlight/);
    expect(refusal(() => validateRoundSchedule({ maxInFlight: 1.5 }, cohort))).toMatch(/rounds.maxInFlight/);
    expect(refusal(() => validateRoundSchedule({ mode: 'fedbuff' }, cohort))).toMatch(/rounds.mode/);
    expect(refusal(() => validateRoundSchedule({ bufferSize: 4 }, cohort))).toMatch(/"buffered" only/);
    expect(refusal(() => validateRoundSchedule({ concurrency: 4 }, cohort))).toMatch(/"buffered" only/);
    expect(refusal(() => validateRoundSchedule({ mode: 'buffered', maxInFlight: 2 }, cohort))).toMatch(
      /rounds.concurrency instead/,
    );
    expect(refusal(() => validateRoundSchedule({ mode: 'buffered', bufferSize: 0 }, cohort))).toMatch(
      /rounds.bufferSize/,
    );
    expect(
      refusal(() => validateRoundSchedule({ mode: 'buffered', bufferSize: 20, concurrency: 5 }, cohort)),
    ).toMatch(/cannot exceed/);
    expect(
      refusal(() => validateRoundSchedule({ mode: 'buffered', bufferSize: Number.NaN }, cohort)),
    ).toMatch(/rounds.bufferSize/);
  });
});

describe('checkRoundModeCompatibility', () => {
  const schedule = validateRoundSchedule({ mode: 'buffered' }, cohort);
  const strategy = validateStrategyConfig(undefined);
  const off = { mode: 'off' } as const;

  it('lets buffered mode run with FedAvg-family strategies and plain clipping', () => {
    const fedadam = validateStrategyConfig({ name: 'fedadam' });
    expect(() =>
      checkRoundModeCompatibility({
        schedule,
        strategy: fedadam,
        privacy: { mode: 'off', clipNorm: 1 },
        secureAggregation: false,
      }),
    ).not.toThrow();
  });

  it('refuses secure aggregation, robust rules, SCAFFOLD, accounted privacy and adaptive clipping', () => {
    const check = (over: Partial<Parameters<typeof checkRoundModeCompatibility>[0]>): string =>
      refusal(() =>
        checkRoundModeCompatibility({ schedule, strategy, privacy: off, secureAggregation: false, ...over }),
      );
    expect(check({ secureAggregation: true })).toMatch(/secure aggregation reveals only the sum/);
    expect(
      check({ strategy: validateStrategyConfig({ robust: { kind: 'trimmed-mean', beta: 0.1 } }) }),
    ).toMatch(/robust aggregation "trimmed-mean"/);
    expect(check({ strategy: validateStrategyConfig({ scaffold: true }) })).toMatch(/SCAFFOLD/);
    expect(
      check({ privacy: { mode: 'local', clipNorm: 1, epsilonPerReport: 1, delta: 1e-5, epsilonBudget: 10 } }),
    ).toMatch(/privacy mode "local"/);
    expect(
      check({
        privacy: { mode: 'off', adaptive: { targetQuantile: 0.5, learningRate: 0.2, initialClip: 1 } },
      }),
    ).toMatch(/adaptive clipping/);
  });

  it('leaves synchronous rounds to the other checks, whatever else the task has', () => {
    const sync = validateRoundSchedule({ maxInFlight: 4 }, cohort);
    expect(() =>
      checkRoundModeCompatibility({
        schedule: sync,
        strategy: validateStrategyConfig({ robust: { kind: 'median' } }),
        privacy: off,
        secureAggregation: true,
      }),
    ).not.toThrow();
  });
});
