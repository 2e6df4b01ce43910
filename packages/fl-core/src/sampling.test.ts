import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededRng } from './rng.ts';
import { poissonCohort, suggestedRetryMs } from './sampling.ts';

const ids = Array.from({ length: 10_000 }, (_, i) => i);

describe('Poisson cohort selection', () => {
  it('selects each client independently at rate q * overSelection on average', () => {
    const rng = seededRng(4);
    const counts = new Array<number>(ids.length).fill(0);
    const rounds = 200;
    let total = 0;
    for (let r = 0; r < rounds; r++) {
      const { cohort, clamped } = poissonCohort(
        ids,
        { rate: 0.01, minCohort: 0, maxCohort: 10_000, overSelection: 1.3 },
        rng,
      );
      expect(clamped).toBe('none');
      total += cohort.length;
      for (const id of cohort) counts[id]!++;
    }
    // Mean cohort 130 with sd ~11.3 per round; over 200 rounds the mean is within 1%.
    expect(total / rounds).toBeGreaterThan(126);
    expect(total / rounds).toBeLessThan(134);
    // Nobody is favoured: selection counts look binomial(200, 0.013) (mean 2.6).
    const max = Math.max(...counts);
    expect(max).toBeLessThan(14);
  });

  it('clamps to [min, max] and says so, never returning duplicates', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 1, max: 50 }),
        fc.nat(),
        (n, min, seed) => {
          const population = Array.from({ length: n }, (_, i) => i);
          const max = min + 20;
          const { cohort, clamped } = poissonCohort(
            population,
            { rate: 0.05, minCohort: min, maxCohort: max, overSelection: 1 },
            seededRng(seed >>> 0),
          );
          expect(new Set(cohort).size).toBe(cohort.length);
          expect(cohort.length).toBeLessThanOrEqual(max);
          expect(cohort.length).toBe(Math.max(Math.min(n, min), Math.min(cohort.length, max)));
          if (clamped === 'min') expect(cohort.length).toBe(Math.min(n, min));
        },
      ),
    );
  });

  it('refuses a bad specification', () => {
    expect(() =>
      poissonCohort(ids, { rate: 1.5, minCohort: 1, maxCohort: 2, overSelection: 1 }, seededRng(0)),
    ).toThrow(/rate/);
    expect(() =>
      poissonCohort(ids, { rate: 0.1, minCohort: 5, maxCohort: 2, overSelection: 1 }, seededRng(0)),
    ).toThrow(/maxCohort/);
  });
});

describe('pace steering', () => {
  it('spreads a large population over the time until it is likely to be picked, within bounds', () => {
    const rng = seededRng(9);
    const options = {
      populationSize: 10_000,
      cohortSize: 100,
      roundMs: 30_000,
      minMs: 5_000,
      maxMs: 3_600_000,
    };
    const delays = Array.from({ length: 1000 }, () => suggestedRetryMs(options, rng));
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    // 100 rounds of 30 s until an expected pick: 3,000 s, jittered by [0.5, 1.5).
    expect(mean).toBeGreaterThan(2_800_000);
    expect(mean).toBeLessThan(3_200_000);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(1_500_000);
    expect(suggestedRetryMs({ ...options, populationSize: 10 }, rng)).toBeLessThanOrEqual(45_000);
    expect(suggestedRetryMs({ ...options, populationSize: 1 }, rng)).toBeGreaterThanOrEqual(5_000);
  });
});
