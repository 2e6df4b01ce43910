import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededRng } from '../rng.ts';
import {
  addGaussianNoise,
  analyticGaussianSigma,
  classicGaussianSigma,
  distributedNoiseStd,
  localNoiseStd,
} from './noise.ts';

function meanAndStd(values: Float32Array | number[]): { mean: number; std: number } {
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / values.length;
  let sq = 0;
  for (const v of values) sq += (v - mean) ** 2;
  return { mean, std: Math.sqrt(sq / (values.length - 1)) };
}

describe('addGaussianNoise', () => {
  it('adds zero-mean noise of the given std, reproducibly, to a copy', () => {
    const input = new Float32Array(40_000).fill(1);
    const noised = addGaussianNoise(input, 0.5, seededRng(7));
    expect(input.every((x) => x === 1)).toBe(true);
    const { mean, std } = meanAndStd(noised);
    // 40k samples: the mean's standard error is 0.0025, the std's about 0.0018.
    expect(Math.abs(mean - 1)).toBeLessThan(0.01);
    expect(Math.abs(std - 0.5)).toBeLessThan(0.01);
    expect(addGaussianNoise(input, 0.5, seededRng(7))).toEqual(noised);
    expect(addGaussianNoise(input, 0.5, seededRng(8))).not.toEqual(noised);
  });

  it('std 0 is a copy; a negative or NaN std is refused', () => {
    const input = Float32Array.from([1, 2]);
    const out = addGaussianNoise(input, 0, seededRng(1));
    expect(out).toEqual(input);
    expect(out).not.toBe(input);
    expect(() => addGaussianNoise(input, -1, seededRng(1))).toThrow(
      '"std" expected non-negative finite number, got -1',
    );
    expect(() => addGaussianNoise(input, Number.NaN, seededRng(1))).toThrow('got NaN');
  });
});

describe('distributedNoiseStd', () => {
  it('is z*C/sqrt(m)', () => {
    expect(distributedNoiseStd({ noiseMultiplier: 1.2, clipNorm: 0.5, minSurvivors: 16 })).toBeCloseTo(
      0.15,
      15,
    );
    expect(distributedNoiseStd({ noiseMultiplier: 0, clipNorm: 0.5, minSurvivors: 16 })).toBe(0);
  });

  it('m clients each adding their share put noise of std z*C on the sum', () => {
    const params = { noiseMultiplier: 1.5, clipNorm: 2, minSurvivors: 12 };
    const std = distributedNoiseStd(params);
    const rng = seededRng(3);
    const sum = new Float32Array(20_000);
    for (let c = 0; c < params.minSurvivors; c++) {
      const noised = addGaussianNoise(new Float32Array(sum.length), std, rng);
      for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + noised[i]!;
    }
    expect(meanAndStd(sum).std / (params.noiseMultiplier * params.clipNorm)).toBeCloseTo(1, 1);
  });

  it('refuses bad parameters', () => {
    expect(() => distributedNoiseStd({ noiseMultiplier: -1, clipNorm: 1, minSurvivors: 2 })).toThrow(
      '"noiseMultiplier" expected non-negative finite number, got -1',
    );
    expect(() => distributedNoiseStd({ noiseMultiplier: 1, clipNorm: 0, minSurvivors: 2 })).toThrow(
      '"clipNorm"',
    );
    expect(() => distributedNoiseStd({ noiseMultiplier: 1, clipNorm: 1, minSurvivors: 0 })).toThrow(
      '"minSurvivors" expected integer',
    );
  });
});

describe('Gaussian mechanism calibration', () => {
  // scipy.optimize.brentq on Phi(1/(2s) - eps s) - e^eps Phi(-1/(2s) - eps s) = delta.
  it.each([
    [1, 1e-5, 3.730631634815946],
    [0.1, 1e-5, 30.74956613197761],
    [5, 1e-6, 0.9800490003092092],
    [10, 1e-5, 0.49988861970900844],
    [0.5, 1e-3, 4.610127950728141],
  ])('analytic sigma for epsilon %d, delta %d matches scipy', (epsilon, delta, sigma) => {
    expect(Math.abs(analyticGaussianSigma(epsilon, delta, 1) / sigma - 1)).toBeLessThan(1e-9);
    expect(Math.abs(analyticGaussianSigma(epsilon, delta, 3) / (3 * sigma) - 1)).toBeLessThan(1e-9);
  });

  it('the analytic sigma is below the classic one', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.01, max: 0.99, noNaN: true }),
        fc.double({ min: 1e-12, max: 0.1, noNaN: true }),
        (epsilon, delta) => {
          expect(analyticGaussianSigma(epsilon, delta, 1)).toBeLessThan(
            classicGaussianSigma(epsilon, delta, 1),
          );
        },
      ),
      { numRuns: 50 },
    );
    expect(classicGaussianSigma(0.5, 1e-5, 1)).toBeCloseTo(2 * Math.sqrt(2 * Math.log(1.25e5)), 12);
    expect(() => classicGaussianSigma(1, 1e-5, 1)).toThrow('"epsilon" expected below 1');
  });

  it('local noise calibrates to sensitivity 2C', () => {
    expect(localNoiseStd({ epsilon: 1, delta: 1e-5, clipNorm: 0.5 })).toBeCloseTo(3.730631634815946, 9);
    expect(() => localNoiseStd({ epsilon: 0, delta: 1e-5, clipNorm: 1 })).toThrow(
      '"epsilon" expected positive',
    );
    expect(() => localNoiseStd({ epsilon: 1, delta: 1, clipNorm: 1 })).toThrow(
      '"delta" expected finite number in (0, 1)',
    );
  });
});
