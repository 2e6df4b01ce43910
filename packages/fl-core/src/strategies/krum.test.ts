import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { krum, krumMinUpdates, krumScores, multiKrum } from './krum.ts';

/** v / ||v||, or the first axis for a zero vector. */
function unit(v: readonly number[]): number[] {
  const n = Math.hypot(...v);
  return n > 1e-9 ? v.map((x) => x / n) : v.map((_, i) => (i === 0 ? 1 : 0));
}

describe('Krum and Multi-Krum (Blanchard et al. 2017)', () => {
  // Points 0, 1, 2, 3, 100 on a line, f = 1: each score sums the n - f - 2 = 2 smallest
  // squared distances. 0: 1 + 4 = 5; 1: 1 + 1 = 2; 2: 1 + 1 = 2; 3: 1 + 4 = 5;
  // 100: 97^2 + 98^2 = 19013.
  const line = [0, 1, 2, 3, 100].map((v) => Float32Array.of(v));

  it('scores by the n - f - 2 nearest squared distances (known answer)', () => {
    expect(krumScores(line, 1)).toEqual([5, 2, 2, 5, 19013]);
  });

  it('Krum picks the lowest score, ties to the lower index', () => {
    const out = krum(line, 1);
    expect(out.selected).toEqual([1]);
    expect(Array.from(out.vector)).toEqual([1]);
  });

  it('Multi-Krum averages the m best, by default n - f', () => {
    expect(multiKrum(line, 1, 3).selected).toEqual([1, 2, 0]);
    expect(Array.from(multiKrum(line, 1, 3).vector)).toEqual([1]);
    const all = multiKrum(line, 1);
    expect(all.selected).toEqual([1, 2, 0, 3]);
    expect(Array.from(all.vector)).toEqual([1.5]);
    expect(multiKrum(line, 1, 1).selected).toEqual(krum(line, 1).selected);
  });

  it('never picks an outlier far from a tight cluster, even colluding ones listed first', () => {
    const scenario = fc
      .record({
        f: fc.integer({ min: 1, max: 3 }),
        extra: fc.integer({ min: 0, max: 3 }),
        d: fc.integer({ min: 1, max: 8 }),
        collude: fc.boolean(),
        distance: fc.double({ min: 100, max: 1e6, noNaN: true }),
      })
      .chain((s) => {
        const honest = krumMinUpdates(s.f) + s.extra - s.f;
        const coord = fc.double({ min: -1, max: 1, noNaN: true });
        return fc.record({
          s: fc.constant(s),
          center: fc.array(fc.double({ min: -50, max: 50, noNaN: true }), { minLength: s.d, maxLength: s.d }),
          honest: fc.array(fc.array(coord, { minLength: s.d, maxLength: s.d }), {
            minLength: honest,
            maxLength: honest,
          }),
          directions: fc.array(fc.array(coord, { minLength: s.d, maxLength: s.d }), {
            minLength: s.f,
            maxLength: s.f,
          }),
        });
      });
    fc.assert(
      fc.property(scenario, ({ s, center, honest, directions }) => {
        const outliers = directions.map((dir) => {
          const u = unit(s.collude ? directions[0]! : dir);
          return Float32Array.from(center.map((c, i) => c + s.distance * u[i]!));
        });
        const cluster = honest.map((h) => Float32Array.from(center.map((c, i) => c + h[i]!)));
        // Outliers first, so Krum's lower-index tie-break would favour them.
        const updates = [...outliers, ...cluster];
        expect(krum(updates, s.f).selected[0]).toBeGreaterThanOrEqual(s.f);
        const multi = multiKrum(updates, s.f);
        expect([...multi.selected].sort((a, b) => a - b)).toEqual(cluster.map((_, i) => i + s.f));
      }),
      { numRuns: 150 },
    );
  });

  it('refuses n <= 2f + 2 and m outside [1, n - f]', () => {
    expect(krumMinUpdates(1)).toBe(5);
    expect(() => krum(line.slice(0, 4), 1)).toThrow(
      'Krum with f = 1 needs at least 5 updates (n > 2f + 2), got 4',
    );
    expect(() => multiKrum(line, 1, 5)).toThrow('"m" expected integer in [1, 4], got 5');
    expect(() => multiKrum(line, 1, 0)).toThrow(/"m"/);
    expect(() => krum(line, -1)).toThrow(/"f" expected integer/);
    expect(() => krum([...line.slice(0, 4), Float32Array.of(Number.POSITIVE_INFINITY)], 1)).toThrow(
      expect.objectContaining({ code: 'NON_FINITE' }),
    );
  });
});
