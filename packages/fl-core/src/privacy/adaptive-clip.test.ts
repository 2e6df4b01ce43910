import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Rng } from '../rng.ts';
import { gaussian, seededRng } from '../rng.ts';
import { adaptiveNoiseMultiplier, clipBit, defaultBitNoiseStd, nextClipNorm } from './adaptive-clip.ts';

// A fixed population of update norms, log-normal with median 1, and its empirical quantiles.
function population(size: number, seed: number): Float64Array {
  const rng = seededRng(seed);
  return Float64Array.from({ length: size }, () => Math.exp(0.5 * gaussian(rng))).sort();
}
const quantile = (sorted: Float64Array, gamma: number): number => sorted[Math.floor(gamma * sorted.length)]!;
const noRandomness: Rng = () => {
  throw new Error('no randomness expected with bitNoiseStd 0');
};

/** Run the adaptive clipping loop; returns C after each round. */
function simulate(
  norms: Float64Array,
  options: { gamma: number; initialClip: number; rounds: number; cohort?: number; seed?: number },
): number[] {
  const rng = options.seed === undefined ? noRandomness : seededRng(options.seed);
  const m = options.cohort ?? norms.length;
  const params = {
    targetQuantile: options.gamma,
    learningRate: 0.2,
    bitNoiseStd: options.cohort ? defaultBitNoiseStd(m) : 0,
  };
  let clip = options.initialClip;
  const history: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    let bits = 0;
    for (let i = 0; i < m; i++) {
      const norm = options.cohort ? norms[Math.floor(rng() * norms.length)]! : norms[i]!;
      bits += clipBit(norm, clip);
    }
    clip = nextClipNorm(clip, bits, m, params, rng).clipNorm;
    history.push(clip);
  }
  return history;
}

describe('adaptive clipping (Andrew et al. 2021)', () => {
  it('the bit is 1 at or below C, 0 above', () => {
    expect(clipBit(0.5, 1)).toBe(1);
    expect(clipBit(1, 1)).toBe(1);
    expect(clipBit(1.0001, 1)).toBe(0);
    expect(() => clipBit(Number.NaN, 1)).toThrow('"norm" expected a number, got NaN');
  });

  it('shrinks C when more than gamma of the clients were at or below it, grows it otherwise', () => {
    const params = { targetQuantile: 0.5, learningRate: 0.2, bitNoiseStd: 0 };
    expect(nextClipNorm(2, 10, 10, params, noRandomness)).toEqual({
      clipNorm: 2 * Math.exp(-0.1),
      noisedFraction: 1,
    });
    expect(nextClipNorm(2, 0, 10, params, noRandomness)).toEqual({
      clipNorm: 2 * Math.exp(0.1),
      noisedFraction: 0,
    });
    expect(nextClipNorm(2, 5, 10, params, noRandomness).clipNorm).toBe(2);
  });

  it('converges to within 5% of the target quantile in at most 200 rounds, from far below and far above', () => {
    // With every client reporting and no bit noise the loop is deterministic; a sign error in
    // the update drives C away from the quantile (toward 0 or infinity) and fails here.
    const norms = population(10_000, 11);
    for (const gamma of [0.1, 0.5, 0.9]) {
      const target = quantile(norms, gamma);
      for (const start of [target / 10, target * 10]) {
        const history = simulate(norms, { gamma, initialClip: start, rounds: 200 });
        const within = history.map((c) => Math.abs(c / target - 1) <= 0.05);
        const settled = within.findIndex((_, t) => within.slice(t).every(Boolean));
        expect(settled, `gamma ${gamma} from ${start}`).toBeGreaterThanOrEqual(0);
        expect(settled).toBeLessThan(150);
        expect(Math.abs(history.at(-1)! / target - 1)).toBeLessThan(0.02);
      }
    }
  });

  it("converges with sampled cohorts and the paper's bit noise (sigma_b = m/20)", () => {
    const norms = population(10_000, 5);
    const target = quantile(norms, 0.5);
    for (const seed of [1, 2, 3]) {
      const history = simulate(norms, {
        gamma: 0.5,
        initialClip: target / 10,
        rounds: 200,
        cohort: 500,
        seed,
      });
      // C keeps jittering with the noise; its geometric mean over the last 20 rounds settles.
      const logMean = history.slice(-20).reduce((s, c) => s + Math.log(c), 0) / 20;
      expect(Math.abs(Math.exp(logMean) / target - 1), `seed ${seed}`).toBeLessThan(0.05);
    }
  });

  it('converges for any target quantile and start within 10x (property)', () => {
    const norms = population(2_000, 9);
    fc.assert(
      fc.property(
        fc.double({ min: 0.1, max: 0.9, noNaN: true }),
        fc.double({ min: -1, max: 1, noNaN: true }),
        (gamma, logStart) => {
          const target = quantile(norms, gamma);
          const history = simulate(norms, { gamma, initialClip: target * 10 ** logStart, rounds: 200 });
          expect(Math.abs(history.at(-1)! / target - 1)).toBeLessThanOrEqual(0.05);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('noises the bit sum with sigma_b, reproducibly', () => {
    const params = { targetQuantile: 0.5, learningRate: 0.2, bitNoiseStd: 5 };
    const a = nextClipNorm(1, 50, 100, params, seededRng(4));
    expect(a).toEqual(nextClipNorm(1, 50, 100, params, seededRng(4)));
    expect(a.noisedFraction).not.toBe(0.5);
    expect(a.clipNorm).toBeCloseTo(Math.exp(-0.2 * (a.noisedFraction - 0.5)), 12);
  });

  it('refuses bad parameters', () => {
    const ok = { targetQuantile: 0.5, learningRate: 0.2, bitNoiseStd: 1 };
    const rng = seededRng(1);
    expect(() => nextClipNorm(0, 1, 10, ok, rng)).toThrow(
      '"clipNorm" expected positive finite number, got 0',
    );
    expect(() => nextClipNorm(1, 1, 10, { ...ok, targetQuantile: 1 }, rng)).toThrow(
      '"targetQuantile" expected number in (0, 1), got 1',
    );
    expect(() => nextClipNorm(1, 1, 10, { ...ok, learningRate: Number.NaN }, rng)).toThrow('"learningRate"');
    expect(() => nextClipNorm(1, 1, 0, ok, rng)).toThrow('"expectedClients"');
    expect(() => nextClipNorm(1, 1, 10, { ...ok, bitNoiseStd: -1 }, rng)).toThrow('"bitNoiseStd"');
  });
});

describe('adaptiveNoiseMultiplier', () => {
  it('splits the noise between updates and bits: z_delta^-2 + (2 sigma_b)^-2 = z^-2', () => {
    const zDelta = adaptiveNoiseMultiplier(1, 5);
    expect(zDelta ** -2 + 10 ** -2).toBeCloseTo(1, 12);
    expect(zDelta).toBeGreaterThan(1);
    expect(adaptiveNoiseMultiplier(0, 5)).toBe(0);
    expect(() => adaptiveNoiseMultiplier(2, 1)).toThrow('"bitNoiseStd" expected above noiseMultiplier / 2');
    expect(defaultBitNoiseStd(100)).toBe(5);
  });
});
