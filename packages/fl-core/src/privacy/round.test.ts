import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PollenError } from '../errors.ts';
import { seededRng } from '../rng.ts';
import { validateStrategyConfig } from '../strategies/config.ts';
import { l2norm } from '../vector.ts';
import { clipToNorm } from './clip.ts';
import { addGaussianNoise, analyticGaussianSigma } from './noise.ts';
import {
  bitNoiseStdFor,
  checkPrivacyCompatibility,
  initialClipNorm,
  noisedNormBound,
  roundNoise,
} from './round.ts';
import { validatePrivacySettings } from './settings.ts';

const distributed = validatePrivacySettings({
  mode: 'distributed',
  noiseMultiplier: 1,
  clipNorm: 2,
  delta: 1e-5,
  epsilonBudget: 8,
});
const adaptive = validatePrivacySettings({
  mode: 'distributed',
  noiseMultiplier: 1,
  adaptive: { targetQuantile: 0.5, learningRate: 0.2, initialClip: 0.3 },
  delta: 1e-5,
  epsilonBudget: 8,
});
const local = validatePrivacySettings({
  mode: 'local',
  clipNorm: 1,
  epsilonPerReport: 2,
  delta: 1e-6,
  epsilonBudget: 10,
});

describe('roundNoise', () => {
  it('gives each client z*C/sqrt(m) under distributed noise and charges z', () => {
    expect(roundNoise(distributed, 2, 4, 10)).toEqual({ noiseStd: 1, noiseMultiplier: 1, bitNoiseStd: 0 });
    expect(roundNoise(distributed, 2, 1, 10).noiseStd).toBe(2);
  });

  it('adds noise that sums to std z*C over m clients', () => {
    // m = 4 clients each add their share to 20k zero coordinates; the sum's std is z*C = 2.
    const { noiseStd } = roundNoise(distributed, 2, 4, 4);
    const rng = seededRng(3);
    const sum = new Float64Array(20_000);
    for (let k = 0; k < 4; k++) {
      const share = addGaussianNoise(new Float32Array(sum.length), noiseStd, rng);
      for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + share[i]!;
    }
    const std = Math.sqrt(sum.reduce((a, v) => a + v * v, 0) / sum.length);
    expect(std).toBeGreaterThan(1.96);
    expect(std).toBeLessThan(2.04);
  });

  it('splits the budget between updates and clipping bits under adaptive clipping', () => {
    // 200 expected clients: sigma_b = 200 / 20 = 10; z_Delta = (1 - 1/400)^-1/2.
    const big = roundNoise(adaptive, 0.3, 100, 200);
    expect(big.bitNoiseStd).toBe(10);
    expect(big.noiseMultiplier).toBe(1);
    expect(big.noiseStd).toBeCloseTo(((1 - 1 / 400) ** -0.5 * 0.3) / 10, 12);
    // 3 expected clients: m / 20 is too little for the bits to fit, so sigma_b = z.
    const small = roundNoise(adaptive, 0.3, 2, 3);
    expect(small.bitNoiseStd).toBe(1);
    expect(small.noiseStd).toBeCloseTo(((1 - 1 / 4) ** -0.5 * 0.3) / Math.SQRT2, 12);
  });

  it('calibrates local noise to one report of sensitivity 2C and charges sigma / 2C', () => {
    const noise = roundNoise(local, 1, 5, 10);
    expect(noise.noiseStd).toBe(analyticGaussianSigma(2, 1e-6, 2));
    expect(noise.noiseMultiplier).toBeCloseTo(noise.noiseStd / 2, 12);
    // The multiplier does not depend on C: sigma scales with it.
    expect(roundNoise(local, 3, 5, 10).noiseMultiplier).toBeCloseTo(noise.noiseMultiplier, 9);
  });

  it('adds nothing in mode off, and refuses nonsense', () => {
    expect(roundNoise({ mode: 'off', clipNorm: 1 }, 1, 1, 1)).toEqual({
      noiseStd: 0,
      noiseMultiplier: 0,
      bitNoiseStd: 0,
    });
    expect(() => roundNoise(distributed, 0, 1, 1)).toThrow(PollenError);
    expect(() => roundNoise(distributed, 1, 0, 1)).toThrow(/minReports/);
    expect(() => roundNoise(distributed, 1, 1, Number.NaN)).toThrow(/expectedClients/);
  });
});

describe('initialClipNorm and bitNoiseStdFor', () => {
  it('reads the clip norm a task starts with', () => {
    expect(initialClipNorm(distributed)).toBe(2);
    expect(initialClipNorm(adaptive)).toBe(0.3);
    expect(initialClipNorm(local)).toBe(1);
    expect(initialClipNorm({ mode: 'off' })).toBeNull();
  });

  it("keeps a task's own sigma_b", () => {
    const own = validatePrivacySettings({
      ...adaptive,
      adaptive: { targetQuantile: 0.5, learningRate: 0.2, initialClip: 1, bitNoiseStd: 4 },
    });
    expect(bitNoiseStdFor(own, 1000)).toBe(4);
    expect(bitNoiseStdFor(distributed, 1000)).toBe(0);
  });
});

describe('noisedNormBound', () => {
  it('is C (1 + slack) without noise', () => {
    expect(noisedNormBound(2, 0, 100, 1e-3)).toBeCloseTo(2.002, 12);
  });

  it('holds every honest clipped and noised report', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3000 }),
        fc.double({ min: 0.01, max: 10, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (d, clipNorm, noiseStd, scale, seed) => {
          const rng = seededRng(seed);
          const raw = Float32Array.from({ length: d }, () => (rng() - 0.5) * scale);
          const report = addGaussianNoise(clipToNorm(raw, clipNorm).clipped, noiseStd, rng);
          return l2norm(report) <= noisedNormBound(clipNorm, noiseStd, d);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses an unclipped update that exceeds it', () => {
    const update = new Float32Array(1000).fill(1); // norm 31.6
    expect(l2norm(update)).toBeGreaterThan(noisedNormBound(1, 0.5, 1000));
  });
});

describe('checkPrivacyCompatibility', () => {
  const strategy = (input: unknown): ReturnType<typeof validateStrategyConfig> =>
    validateStrategyConfig(input);

  it('refuses SCAFFOLD under any noise, and robust rules under distributed noise', () => {
    expect(() => checkPrivacyCompatibility(distributed, strategy({ scaffold: true }))).toThrow(/SCAFFOLD/);
    expect(() => checkPrivacyCompatibility(local, strategy({ scaffold: true }))).toThrow(/SCAFFOLD/);
    expect(() => checkPrivacyCompatibility(distributed, strategy({ robust: { kind: 'median' } }))).toThrow(
      /robust aggregation "median"/,
    );
  });

  it('mode ftrl: clients add no noise, and only fedavg/fedavgm, summed, one round at a time', () => {
    const ftrl = validatePrivacySettings({
      mode: 'ftrl',
      clipNorm: 1,
      noiseMultiplier: 3,
      delta: 1e-5,
      epsilonBudget: 5,
      minSeparation: 2,
    });
    expect(roundNoise(ftrl, 1, 2, 4)).toEqual({ noiseStd: 0, noiseMultiplier: 3, bitNoiseStd: 0 });
    expect(initialClipNorm(ftrl)).toBe(1);
    checkPrivacyCompatibility(ftrl, strategy({ name: 'fedavgm' }), { maxInFlight: 1 });
    expect(() => checkPrivacyCompatibility(ftrl, strategy({ name: 'fedadam' }))).toThrow(
      /FTRL with momentum/,
    );
    expect(() => checkPrivacyCompatibility(ftrl, strategy({ robust: { kind: 'median' } }))).toThrow(/median/);
    expect(() => checkPrivacyCompatibility(ftrl, strategy({ scaffold: true }))).toThrow(/SCAFFOLD/);
    expect(() => checkPrivacyCompatibility(ftrl, strategy({}), { maxInFlight: 2 })).toThrow(/maxInFlight/);
  });

  it('allows robust rules on local reports, server optimizers and anything in mode off', () => {
    checkPrivacyCompatibility(local, strategy({ robust: { kind: 'median' } }));
    checkPrivacyCompatibility(distributed, strategy({ name: 'fedadam', mu: 0.1 }));
    checkPrivacyCompatibility({ mode: 'off', clipNorm: 1 }, strategy({ scaffold: true }));
  });
});
