/**
 * Log-space arithmetic and the error function, for the privacy accountant and the analytic
 * Gaussian mechanism. The quantities involved (tail masses of Gaussians, moments of privacy
 * loss) span hundreds of orders of magnitude, so they are carried as logarithms.
 */

const LOG_SQRT_PI = 0.5 * Math.log(Math.PI);
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/** log(exp(a) + exp(b)) without overflow; -Infinity stands for zero. */
export function logAdd(a: number, b: number): number {
  const hi = Math.max(a, b);
  const lo = Math.min(a, b);
  if (lo === Number.NEGATIVE_INFINITY) return hi;
  return hi + Math.log1p(Math.exp(lo - hi));
}

/**
 * log(exp(a) - exp(b)) for a >= b; -Infinity stands for zero. A difference that rounding
 * made slightly negative is returned as zero (-Infinity) rather than NaN.
 */
export function logSub(a: number, b: number): number {
  if (b === Number.NEGATIVE_INFINITY) return a;
  if (b >= a) return Number.NEGATIVE_INFINITY;
  return a + Math.log(-Math.expm1(b - a));
}

/**
 * erf(x) for |x| < 2 from the series erf(x) = 2/sqrt(pi) e^{-x^2} sum_n 2^n x^{2n+1} / (2n+1)!!
 * (Abramowitz and Stegun 7.1.6): every term is positive, so nothing cancels.
 */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * 1e-17) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
}

/**
 * log(sqrt(pi) e^{x^2} erfc(x)) for x >= 2, from the continued fraction
 * erfc(x) = e^{-x^2}/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))) (A&S 7.1.14),
 * evaluated with the modified Lentz method.
 */
function logScaledErfcCf(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 5000; n++) {
    const a = n / 2;
    d = x + a * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = x + a / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return -Math.log(f);
}

/**
 * log(erfc(x)) for any real x, accurate to about 1e-13 relative, including far in the tail
 * (x = 1e3 gives about -1e6, where erfc itself underflows).
 */
export function logErfc(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x === Number.POSITIVE_INFINITY) return Number.NEGATIVE_INFINITY;
  if (x === Number.NEGATIVE_INFINITY) return Math.LN2;
  if (x >= 2) return -x * x - LOG_SQRT_PI + logScaledErfcCf(x);
  if (x > -2) return Math.log1p(-erfSeries(x));
  // erfc(x) = 2 - erfc(-x), with erfc(-x) < 0.005 here.
  return Math.log(2 - Math.exp(-x * x - LOG_SQRT_PI + logScaledErfcCf(-x)));
}

/** log(Phi(x)), the log of the standard normal distribution function. */
export function logNormalCdf(x: number): number {
  return Math.log(0.5) + logErfc(-x / Math.SQRT2);
}
