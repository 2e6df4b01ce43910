import { describe, expect, it } from 'vitest';
import { seededRng } from '../rng.ts';
import { validateStrategyConfig } from '../strategies/config.ts';
import { createStrategy } from '../strategies/create.ts';
import { FtrlServer } from './ftrl.ts';

const D = 4;
const options = {
  dimension: D,
  learningRate: 0.7,
  momentum: 0.9,
  noiseStd: 0,
  denominator: 5,
  restartEvery: 0,
};

function deltas(n: number, seed: number): Float32Array[] {
  const rng = seededRng(seed);
  return Array.from({ length: n }, () => Float32Array.from({ length: D }, () => rng() - 0.5));
}

function closeTo(a: Float32Array, b: Float32Array, tol: number): void {
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(tol);
}

describe('FtrlServer', () => {
  it('without noise is FedAvgM on the mean deltas (sum / n)', () => {
    const ftrl = new FtrlServer(options);
    const fedavgm = createStrategy(
      validateStrategyConfig({ name: 'fedavgm', serverLr: 0.7, momentum: 0.9 }),
      D,
    );
    let x: Float32Array = Float32Array.from([1, 2, 3, 4]);
    let y: Float32Array = x.slice();
    for (const sum of deltas(30, 1)) {
      x = ftrl.apply(x, sum, seededRng(0));
      y = fedavgm.apply(
        y,
        sum.map((v) => v / 5),
      );
      closeTo(x, y, 1e-4);
    }
  });

  it('the noise of a round does not stay in the model: x_t - x_0 carries one prefix of noise', () => {
    const ftrl = new FtrlServer({ ...options, momentum: 0, learningRate: 1, denominator: 1, noiseStd: 1 });
    const zero = new Float32Array(D);
    let x: Float32Array = zero.slice();
    const rng = seededRng(2);
    // Round 8 = 1000b: one node (level 3), so x_9 - x_0 has the noise of one node, variance 1.
    for (let t = 0; t < 8; t++) x = ftrl.apply(x, zero, rng);
    expect(ftrl.state()['ftrl.noise.3']).toBeInstanceOf(Float32Array);
    expect(Object.keys(ftrl.state()).filter((k) => k.startsWith('ftrl.noise.'))).toEqual(['ftrl.noise.3']);
    closeTo(x, ftrl.state()['ftrl.noise.3'] as Float32Array, 1e-6);
  });

  it('restarts after restartEvery rounds from the current model, with no sum, noise or momentum', () => {
    const ftrl = new FtrlServer({ ...options, restartEvery: 3, noiseStd: 0.5 });
    let x: Float32Array = new Float32Array(D);
    const rng = seededRng(4);
    for (const sum of deltas(3, 3)) x = ftrl.apply(x, sum, rng);
    expect(ftrl.steps).toBe(3);
    expect(ftrl.trees).toBe(1);
    const [next] = deltas(1, 9);
    const after = ftrl.apply(x, next!, rng);
    expect(ftrl.steps).toBe(1);
    expect(ftrl.trees).toBe(2);
    const state = ftrl.state();
    expect(state['ftrl.anchor']).toEqual(x);
    // One round into the new tree: the sum is that round's, the momentum its prefix / n.
    expect(state['ftrl.sum']).toEqual(next);
    const noise = state['ftrl.noise.0'] as Float32Array;
    const m = state['ftrl.momentum'] as Float32Array;
    for (let i = 0; i < D; i++) {
      expect(m[i]).toBeCloseTo((next![i]! + noise[i]!) / 5, 5);
      expect(after[i]).toBeCloseTo(x[i]! + 0.7 * m[i]!, 5);
    }
  });

  it('a restored state continues exactly; a malformed one is refused', () => {
    const a = new FtrlServer({ ...options, noiseStd: 1, restartEvery: 4 });
    let x: Float32Array = new Float32Array(D);
    for (const sum of deltas(6, 5)) x = a.apply(x, sum, seededRng(1));
    const b = new FtrlServer({ ...options, noiseStd: 1, restartEvery: 4 });
    b.restore(a.state());
    const [sum] = deltas(1, 6);
    expect(b.apply(x, sum!, seededRng(8))).toEqual(a.apply(x, sum!, seededRng(8)));
    expect(() => b.restore({ ...a.state(), 'ftrl.noise.5': new Float32Array(D) })).toThrow(/levels/);
    expect(() => b.restore({ ...a.state(), 'ftrl.sum': new Float32Array(2) })).toThrow();
  });

  it('refuses bad options', () => {
    expect(() => new FtrlServer({ ...options, momentum: 1 })).toThrow(/momentum/);
    expect(() => new FtrlServer({ ...options, denominator: 0 })).toThrow(/denominator/);
    expect(() => new FtrlServer({ ...options, restartEvery: -1 })).toThrow(/restartEvery/);
  });
});
