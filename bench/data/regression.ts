import { gaussian, seededRng } from '@pollen/fl-core';

/** The shape of the synthetic regression data set (docs/tasks.md, bench/README.md). */
export interface RegressionDataOptions {
  readonly rows: number;
  /** Users the rows belong to (the `user` column, for natural partitioning). */
  readonly users: number;
  readonly seed: number;
}

export const REGRESSION_DEFAULTS: RegressionDataOptions = { rows: 5000, users: 50, seed: 1 };

/** Float features per row: x0..x7. */
export const REGRESSION_FEATURES = 8;

/** Standard deviation of the noise added to the target: the floor of any model's MSE is its square. */
export const REGRESSION_NOISE = 0.3;

/**
 * The noiseless target: a sum of nonlinear terms of the features (a sine, a product, a
 * square, a tanh of a sum) plus linear ones, so a linear model cannot fit it and a small MLP can.
 */
export function regressionTarget(x: readonly number[]): number {
  return (
    1.5 * Math.sin(x[0]!) +
    x[1]! * x[2]! +
    0.5 * x[3]! ** 2 -
    0.8 * x[4]! +
    0.6 * Math.tanh(x[5]! + x[6]!) +
    0.2 * x[7]!
  );
}

/**
 * A deterministic CSV (same options, same bytes): a header `user,x0..x7,y`, then one row per
 * example. Each user's features are standard normal around a mean of its own (drawn once per
 * user, standard deviation 0.5), so users differ in what they see but share the target
 * function; y is the target plus Gaussian noise of {@link REGRESSION_NOISE}.
 */
export function regressionCsv(options: RegressionDataOptions = REGRESSION_DEFAULTS): string {
  const rng = seededRng(options.seed);
  const shifts = Array.from({ length: options.users }, () =>
    Array.from({ length: REGRESSION_FEATURES }, () => 0.5 * gaussian(rng)),
  );
  const names = Array.from({ length: REGRESSION_FEATURES }, (_, i) => `x${i}`);
  const lines = [['user', ...names, 'y'].join(',')];
  for (let r = 0; r < options.rows; r++) {
    const user = Math.floor(rng() * options.users);
    const x = shifts[user]!.map((mean) => mean + gaussian(rng));
    const y = regressionTarget(x) + REGRESSION_NOISE * gaussian(rng);
    const id = `u${String(user).padStart(3, '0')}`;
    lines.push([id, ...x.map((v) => v.toFixed(3)), y.toFixed(4)].join(','));
  }
  return `${lines.join('\n')}\n`;
}
