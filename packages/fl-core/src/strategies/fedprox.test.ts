import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addProximalGradient, proximalGradient, proximalTerm, validateProximalMu } from './fedprox.ts';

const vec = (d: number) =>
  fc.array(fc.float({ min: -10, max: 10, noNaN: true, noDefaultInfinity: true }), {
    minLength: d,
    maxLength: d,
  });

describe('FedProx pieces (Li et al. 2020)', () => {
  it('gradient mu (w - wGlobal) and term mu/2 ||w - wGlobal||^2 (known answer)', () => {
    const w = Float32Array.of(1, 2, 3);
    const g = Float32Array.of(0, 2, 5);
    const grad = proximalGradient(w, g, 0.5);
    expect(Array.from(grad)).toEqual([0.5, 0, -1]);
    expect(proximalTerm(w, g, 0.5)).toBe(0.25 * (1 + 0 + 4));
    expect(proximalGradient(w, g, 0).every((v) => v === 0)).toBe(true);
  });

  it('adds the gradient in place', () => {
    const grad = Float32Array.of(1, 1, 1);
    const out = addProximalGradient(grad, Float32Array.of(1, 2, 3), Float32Array.of(0, 2, 5), 0.5);
    expect(out).toBe(grad);
    expect(Array.from(grad)).toEqual([1.5, 1, 0]);
  });

  it('the gradient is the derivative of the term (central differences)', () => {
    fc.assert(
      fc.property(vec(4), vec(4), fc.double({ min: 0, max: 2, noNaN: true }), (wa, ga, mu) => {
        const w = Float64Array.from(wa);
        const g = Float32Array.from(ga);
        const grad = proximalGradient(Float32Array.from(wa), g, mu);
        // The term is quadratic, so central differences are exact up to rounding.
        const h = 0.5;
        for (let i = 0; i < 4; i++) {
          const up = Float32Array.from(w);
          const down = Float32Array.from(w);
          up[i] = w[i]! + h;
          down[i] = w[i]! - h;
          const numeric = (proximalTerm(up, g, mu) - proximalTerm(down, g, mu)) / (2 * h);
          expect(Math.abs(numeric - grad[i]!)).toBeLessThan(1e-3 * (1 + Math.abs(grad[i]!)));
        }
      }),
      { numRuns: 100 },
    );
  });

  it('a step on the term alone pulls w toward the global model', () => {
    fc.assert(
      fc.property(vec(5), vec(5), fc.double({ min: 0.01, max: 1, noNaN: true }), (wa, ga, mu) => {
        const w = Float32Array.from(wa);
        const g = Float32Array.from(ga);
        const lr = 0.5;
        const step = addProximalGradient(new Float32Array(5), w, g, mu);
        const next = w.map((x, i) => x - lr * step[i]!);
        expect(proximalTerm(next, g, 1)).toBeLessThanOrEqual(proximalTerm(w, g, 1) + 1e-6);
      }),
      { numRuns: 100 },
    );
  });

  it('validates mu >= 0 with INVALID_TASK', () => {
    expect(validateProximalMu(0)).toBe(0);
    expect(validateProximalMu(0.01)).toBe(0.01);
    expect(() => validateProximalMu(-1)).toThrow('"mu" expected non-negative finite number, got -1');
    expect(() => validateProximalMu(-1)).toThrow(expect.objectContaining({ code: 'INVALID_TASK' }));
    expect(() => validateProximalMu(Number.NaN)).toThrow(/"mu"/);
    expect(() => validateProximalMu('0.1')).toThrow(/"mu"/);
  });

  it('refuses vectors of different lengths', () => {
    expect(() => proximalGradient(new Float32Array(2), new Float32Array(3), 1)).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH' }),
    );
  });
});
