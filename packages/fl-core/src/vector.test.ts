import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PollenError } from './errors.ts';
import { add, axpy, flatten, l2norm, scale, specSize, subtract, unflatten } from './vector.ts';

const spec = [
  { name: 'dense/kernel', shape: [3, 2] },
  { name: 'dense/bias', shape: [2] },
  { name: 'out/kernel', shape: [2, 1] },
];

describe('model vectors', () => {
  it('flatten and unflatten are inverse against a weight spec', () => {
    fc.assert(
      fc.property(fc.float32Array({ minLength: 10, maxLength: 10, noNaN: true }), (v) => {
        expect(specSize(spec)).toBe(10);
        const parts = unflatten(spec, v);
        expect(parts.map((p) => p.length)).toEqual([6, 2, 2]);
        expect(flatten(spec, parts)).toEqual(v);
      }),
    );
  });

  it('refuses vectors and tensors of the wrong size with SHAPE_MISMATCH', () => {
    expect(() => unflatten(spec, new Float32Array(9))).toThrow(PollenError);
    expect(() => flatten(spec, [new Float32Array(6), new Float32Array(2)])).toThrow(/expected 3 tensors/);
    try {
      flatten(spec, [new Float32Array(6), new Float32Array(3), new Float32Array(2)]);
    } catch (err) {
      expect((err as PollenError).code).toBe('SHAPE_MISMATCH');
    }
  });

  it('vector arithmetic', () => {
    const a = Float32Array.from([1, 2, 3]);
    const b = Float32Array.from([0.5, -1, 2]);
    expect(add(a, b)).toEqual(Float32Array.from([1.5, 1, 5]));
    expect(subtract(a, b)).toEqual(Float32Array.from([0.5, 3, 1]));
    expect(scale(2, a)).toEqual(Float32Array.from([2, 4, 6]));
    expect(axpy(2, b, a.slice())).toEqual(Float32Array.from([2, 0, 7]));
    expect(l2norm(Float32Array.from([3, 4]))).toBe(5);
    expect(() => add(a, new Float32Array(2))).toThrow(PollenError);
  });
});
