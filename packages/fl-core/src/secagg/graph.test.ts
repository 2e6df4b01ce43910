import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NeighbourGraph } from './graph.ts';

const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const shapeArb = fc.integer({ min: 3, max: 120 }).chain((n) =>
  fc.tuple(
    fc.constant(n),
    fc.integer({ min: 1, max: Math.floor((n - 1) / 2) }).map((h) => 2 * h),
  ),
);

describe('NeighbourGraph (SecAgg+ ring, Bell et al. 2020)', () => {
  it('gives every client k distinct neighbours, symmetrically', () => {
    fc.assert(
      fc.property(shapeArb, seedArb, ([n, k], seed) => {
        const graph = new NeighbourGraph(n, k, seed);
        const lists = Array.from({ length: n }, (_, u) => graph.neighbours(u));
        const problems: string[] = [];
        lists.forEach((mine, u) => {
          if (new Set(mine).size !== k || mine.includes(u)) problems.push(`${u}: ${mine}`);
          for (const v of mine) {
            if (v < 0 || v >= n || !graph.areNeighbours(u, v) || !lists[v]!.includes(u))
              problems.push(`${u}~${v}`);
          }
        });
        let edges = 0;
        for (let u = 0; u < n; u++) for (let v = 0; v < n; v++) if (graph.areNeighbours(u, v)) edges++;
        expect(problems).toEqual([]);
        expect(edges).toBe(n * k);
      }),
      { numRuns: 40 },
    );
  });

  it('is a ring: the neighbourhoods chain into one cycle through all clients', () => {
    const n = 50;
    const graph = new NeighbourGraph(n, 2, new Uint8Array(32).fill(1));
    const seen = [0];
    let previous = -1;
    let current = 0;
    for (let step = 1; step < n; step++) {
      const next = graph.neighbours(current).find((v) => v !== previous)!;
      previous = current;
      current = next;
      seen.push(current);
    }
    expect(new Set(seen).size).toBe(n);
    expect(graph.areNeighbours(current, 0)).toBe(true);
  });

  it('is complete when k = n - 1 (plain SecAgg), even for odd k', () => {
    const graph = new NeighbourGraph(6, 5, new Uint8Array(32));
    expect(graph.neighbours(2)).toEqual([0, 1, 3, 4, 5]);
    expect(graph.areNeighbours(2, 2)).toBe(false);
  });

  it('is fixed by the seed: same seed same graph, another seed another ring', () => {
    const a = new NeighbourGraph(200, 16, new Uint8Array(32).fill(5));
    const b = new NeighbourGraph(200, 16, new Uint8Array(32).fill(5));
    const c = new NeighbourGraph(200, 16, new Uint8Array(32).fill(6));
    expect(b.neighbours(17)).toEqual(a.neighbours(17));
    expect(c.neighbours(17)).not.toEqual(a.neighbours(17));
  });

  it('refuses odd k below n - 1 and ids out of range', () => {
    expect(() => new NeighbourGraph(10, 3, new Uint8Array(32))).toThrow(/even/);
    expect(() => new NeighbourGraph(10, 2, new Uint8Array(32)).neighbours(10)).toThrow(/client id/);
  });
});
