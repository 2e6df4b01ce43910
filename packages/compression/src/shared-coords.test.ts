import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sfc32 } from './prng.ts';
import { chooseSharedCoordinates, sendSharedCoordinates, updateMomentum } from './shared-coords.ts';
import { sparseToDense } from './sparse.ts';
import { topKIndices } from './topk.ts';

const setup = fc.integer({ min: 1, max: 150 }).chain((d) =>
  fc.tuple(
    fc.float32Array({ noNaN: true, minLength: d, maxLength: d }),
    fc.integer({ min: 0, max: d }).chain((k) => fc.tuple(fc.constant(k), fc.integer({ min: 0, max: d - k }))),
    fc.integer({ min: 0, max: 0xffffffff }),
  ),
);

describe('chooseSharedCoordinates', () => {
  it('returns k + explore sorted distinct coordinates holding the top-k of the momentum', () => {
    fc.assert(
      fc.property(setup, ([momentum, [k, explore], seed]) => {
        const coords = chooseSharedCoordinates(momentum, { k, explore, seed });
        expect(coords.length).toBe(k + explore);
        for (let j = 1; j < coords.length; j++) expect(coords[j]!).toBeGreaterThan(coords[j - 1]!);
        const set = new Set(coords);
        let nonZero = 0;
        for (const m of momentum) if (m !== 0) nonZero++;
        for (const i of topKIndices(momentum, Math.min(k, nonZero))) expect(set.has(i)).toBe(true);
        // The server and every client compute the same set from the same inputs.
        expect(chooseSharedCoordinates(momentum, { k, explore, seed })).toEqual(coords);
      }),
      { numRuns: 200 },
    );
  });

  it('explores differently for different seeds', () => {
    const momentum = Float32Array.from({ length: 1000 }, (_, i) => (i < 10 ? 100 - i : 0));
    const a = chooseSharedCoordinates(momentum, { k: 10, explore: 20, seed: 1 });
    const b = chooseSharedCoordinates(momentum, { k: 10, explore: 20, seed: 2 });
    expect([...a.subarray(0, 10)]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(a).not.toEqual(b);
  });

  it('draws at random, not the lowest indices, while the momentum is all zeros', () => {
    const coords = chooseSharedCoordinates(new Float32Array(10_000), { k: 50, explore: 0, seed: 3 });
    expect(coords.length).toBe(50);
    expect(coords[49]!).toBeGreaterThan(1000);
  });

  it('refuses more coordinates than there are', () => {
    expect(() => chooseSharedCoordinates(new Float32Array(5), { k: 3, explore: 3, seed: 0 })).toThrow(
      /"explore" expected integer in \[0, 2\]/,
    );
  });
});

describe('sendSharedCoordinates', () => {
  it('sends the corrected values at the shared coordinates and keeps the rest, conserving mass', () => {
    fc.assert(
      fc.property(setup, fc.nat(), ([update, [k, explore], seed], rSeed) => {
        const rng = sfc32(rSeed);
        const previous = update.map(() => rng() - 0.5);
        const coords = chooseSharedCoordinates(previous, { k, explore, seed });
        const { sent, residual } = sendSharedCoordinates(update, previous, coords);
        expect(sent.indices).toEqual(coords);
        const dense = sparseToDense(sent);
        for (let i = 0; i < update.length; i++) {
          expect(dense[i]! + residual[i]!).toBe(Math.fround(update[i]! + previous[i]!));
        }
      }),
      { numRuns: 100 },
    );
  });
});

describe('updateMomentum', () => {
  it('decays the old momentum and adds the aggregate', () => {
    expect([...updateMomentum(Float32Array.of(1, -2), Float32Array.of(0.5, 0.5), 0.5)]).toEqual([1, -0.5]);
    expect(() => updateMomentum(Float32Array.of(1), Float32Array.of(1), 1)).toThrow(/"beta"/);
  });
});
