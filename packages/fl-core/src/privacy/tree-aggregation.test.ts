import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededRng } from '../rng.ts';
import { TreeAggregator } from './tree-aggregation.ts';

const vec = (...xs: number[]): Float32Array => Float32Array.from(xs);

describe('TreeAggregator', () => {
  it('without noise, every prefix equals the plain running sum', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.float({ min: -100, max: 100, noNaN: true }), { minLength: 3, maxLength: 3 }), {
          minLength: 1,
          maxLength: 40,
        }),
        (rows) => {
          const tree = new TreeAggregator(3, 0);
          const plain = new Float32Array(3);
          for (const row of rows) {
            const prefix = tree.add(Float32Array.from(row), seededRng(1));
            for (let i = 0; i < 3; i++) plain[i] = plain[i]! + row[i]!;
            expect(prefix).toEqual(plain);
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  it('keeps the noise of the nodes of t in binary: popcount(t) of them, so the variance grows as log t', () => {
    const tree = new TreeAggregator(1, 1);
    const rng = seededRng(7);
    for (let t = 1; t <= 64; t++) {
      tree.add(vec(0), rng);
      const levels = [...tree.state().noise.keys()].sort((a, b) => a - b);
      const bits = [...t.toString(2)].reverse().flatMap((c, l) => (c === '1' ? [l] : []));
      expect(levels).toEqual(bits);
    }
  });

  it('the noise of a prefix has variance popcount(t) * sigma^2', () => {
    // 2,000 independent trees of 7 rounds: 7 = 111b, three nodes, variance 3 sigma^2 = 12.
    const rng = seededRng(3);
    let sq = 0;
    const n = 2000;
    for (let k = 0; k < n; k++) {
      const tree = new TreeAggregator(1, 2);
      let p = vec(0);
      for (let t = 0; t < 7; t++) p = tree.add(vec(0), rng);
      sq += p[0]! * p[0]!;
    }
    expect(sq / n).toBeGreaterThan(12 * 0.88);
    expect(sq / n).toBeLessThan(12 * 1.12);
  });

  it('a restart forgets the rounds, the sum and the noise', () => {
    const tree = new TreeAggregator(2, 1);
    const rng = seededRng(5);
    for (let t = 0; t < 5; t++) tree.add(vec(1, 2), rng);
    tree.restart();
    expect(tree.steps).toBe(0);
    expect(tree.prefix()).toEqual(vec(0, 0));
    expect(tree.state().noise.size).toBe(0);
    const quiet = new TreeAggregator(2, 0);
    expect(quiet.add(vec(3, 4), rng)).toEqual(vec(3, 4));
  });

  it('restores a saved state and continues as if never stopped; refuses one that does not fit', () => {
    const a = new TreeAggregator(2, 1);
    for (let t = 0; t < 6; t++) a.add(vec(t, -t), seededRng(t));
    const b = new TreeAggregator(2, 1);
    b.restore(a.state());
    expect(b.add(vec(1, 1), seededRng(99))).toEqual(a.add(vec(1, 1), seededRng(99)));
    const state = a.state();
    expect(() => b.restore({ ...state, steps: state.steps + 1 })).toThrow(/levels/);
    expect(() => b.restore({ ...state, sum: new Float32Array(3) })).toThrow();
  });

  it('refuses a value of the wrong length or with NaN, changing nothing', () => {
    const tree = new TreeAggregator(2, 1);
    expect(() => tree.add(vec(1), seededRng(1))).toThrow();
    expect(() => tree.add(vec(1, Number.NaN), seededRng(1))).toThrow();
    expect(tree.steps).toBe(0);
  });
});
