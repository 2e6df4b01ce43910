import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { logAdd, logErfc, logNormalCdf, logSub } from './log-space.ts';

// Reference values from mpmath at 40 digits: float(mpmath.log(mpmath.erfc(x))).
const LOG_ERFC: readonly (readonly [number, number])[] = [
  [-5, 0.6931471805591766],
  [-2.5, 0.6929436838471712],
  [-2, 0.6908055736465877],
  [-1.99, 0.6906998949978318],
  [-0.5, 0.41903914777555956],
  [0, 0],
  [1e-8, -1.1283791734617103e-8],
  [0.3, -0.39843005144008525],
  [1, -1.8496055099332482],
  [1.99, -5.320852015139977],
  [2, -5.364941264616638],
  [2.01, -5.409215264190247],
  [3, -10.720363041981113],
  [5, -27.200889545537436],
  [10, -102.87988902484489],
  [27, -732.8688865078974],
  [30, -903.9741171106439],
  [100, -10005.177585122665],
  [1000, -1000007.4801207219],
];

describe('logErfc', () => {
  it.each(LOG_ERFC)('log(erfc(%d)) matches mpmath', (x, expected) => {
    if (expected === 0) expect(Math.abs(logErfc(x))).toBe(0);
    else expect(Math.abs(logErfc(x) / expected - 1)).toBeLessThan(1e-12);
  });

  it('handles the infinities and NaN', () => {
    expect(logErfc(Number.POSITIVE_INFINITY)).toBe(Number.NEGATIVE_INFINITY);
    expect(logErfc(Number.NEGATIVE_INFINITY)).toBe(Math.LN2);
    expect(logErfc(Number.NaN)).toBeNaN();
  });

  it('is non-increasing', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -30, max: 30, noNaN: true }),
        fc.double({ min: 1e-6, max: 5, noNaN: true }),
        (x, h) => {
          expect(logErfc(x + h)).toBeLessThanOrEqual(logErfc(x));
        },
      ),
    );
  });

  it('gives log Phi', () => {
    expect(logNormalCdf(0)).toBeCloseTo(Math.log(0.5), 14);
    // Phi(-1.6448536269514722) = 0.05
    expect(Math.exp(logNormalCdf(-1.6448536269514722))).toBeCloseTo(0.05, 13);
  });
});

describe('logAdd and logSub', () => {
  it('add and subtract in log space', () => {
    expect(logAdd(Math.log(2), Math.log(3))).toBeCloseTo(Math.log(5), 14);
    expect(logAdd(Number.NEGATIVE_INFINITY, 1)).toBe(1);
    expect(logAdd(1000, 1000)).toBeCloseTo(1000 + Math.LN2, 12);
    expect(logSub(Math.log(5), Math.log(3))).toBeCloseTo(Math.log(2), 14);
    expect(logSub(1, Number.NEGATIVE_INFINITY)).toBe(1);
    expect(logSub(1, 1)).toBe(Number.NEGATIVE_INFINITY);
  });

  it('logSub undoes logAdd', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -50, max: 50, noNaN: true }),
        fc.double({ min: -50, max: 0, noNaN: true }),
        (a, d) => {
          const b = a + d - 1;
          expect(logSub(logAdd(a, b), b)).toBeCloseTo(a, 9);
        },
      ),
    );
  });
});
