import { PollenError } from '../errors.ts';
import type { Rng } from '../rng.ts';
import type { StrategyState } from '../strategies/strategy.ts';
import { readStateCount, readStateVector } from '../strategies/strategy.ts';
import { assertFinite, assertLength, expectInt, expectNonNegative, expectPositive } from '../validate.ts';
import { TreeAggregator } from './tree-aggregation.ts';

/**
 * The server step of DP-FTRL with momentum (DP-FTRLM; Kairouz et al. 2021, Algorithm 1 and
 * Section 5) on the noisy prefix sums of a tree (tree-aggregation.ts). With S~_t the noisy
 * sum of the round sums 1..t and n the round's public denominator:
 *
 *   m_t = beta * m_{t-1} + S~_t / n,   x_{t+1} = x_0 + eta * m_t
 *
 * where x_0 is the model when the tree started. Our deltas are descent directions (negative
 * pseudo-gradients), hence the plus. Without noise this is FedAvgM exactly: unrolling both,
 * x_{t+1} - x_0 = eta * sum_r Delta_r * sum_{i=0}^{t-r} beta^i. FTRL never sees x_t: the noise
 * of one round does not accumulate into the next, it is replaced by the next prefix's.
 *
 * Restart rule: after `restartEvery` rounds (0: never) the tree starts again from the
 * current model, x_0 <- x_t, with no sum, no noise and no momentum (the momentum is made of
 * the old tree's prefix sums, which x_t already holds). Each tree is accounted separately.
 */

/** What a DP-FTRL server needs. */
export interface FtrlOptions {
  readonly dimension: number;
  /** eta > 0. */
  readonly learningRate: number;
  /** beta in [0, 1); 0: plain DP-FTRL. */
  readonly momentum: number;
  /** sigma = z * C: each tree node's noise std, on sums of updates clipped to C. */
  readonly noiseStd: number;
  /** n > 0: the public denominator the sums are divided by (the round's expected reports). */
  readonly denominator: number;
  /** Rounds per tree; 0: a single tree. */
  readonly restartEvery: number;
}

function expectMomentum(value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) {
    throw new PollenError('INVALID_ARGUMENT', `"momentum" expected number in [0, 1), got ${String(value)}`);
  }
  return value;
}

const KEY = {
  steps: 'ftrl.steps',
  trees: 'ftrl.trees',
  sum: 'ftrl.sum',
  anchor: 'ftrl.anchor',
  momentum: 'ftrl.momentum',
  noise: 'ftrl.noise.',
} as const;

/** The DP-FTRL server: tree, anchor x_0 and momentum, as one persistable object. */
export class FtrlServer {
  readonly options: FtrlOptions;
  readonly #tree: TreeAggregator;
  #anchor: Float32Array | null = null;
  #momentum: Float32Array;
  #trees = 0;

  constructor(options: FtrlOptions) {
    const dimension = expectInt('dimension', options.dimension, 1, 2 ** 31 - 1);
    this.options = {
      dimension,
      learningRate: expectPositive('learningRate', options.learningRate),
      momentum: expectMomentum(options.momentum),
      noiseStd: expectNonNegative('noiseStd', options.noiseStd),
      denominator: expectPositive('denominator', options.denominator),
      restartEvery: expectInt('restartEvery', options.restartEvery, 0, Number.MAX_SAFE_INTEGER),
    };
    this.#tree = new TreeAggregator(dimension, this.options.noiseStd);
    this.#momentum = new Float32Array(dimension);
  }

  /** Rounds in the current tree. */
  get steps(): number {
    return this.#tree.steps;
  }

  /** Trees started so far (restarts + 1 once a round was applied). */
  get trees(): number {
    return this.#trees;
  }

  /**
   * x_{t+1} from the current model and round t's sum of clipped updates. The first round of
   * a tree anchors it at `global`; later rounds ignore `global` (FTRL's iterate comes from
   * x_0 and the prefix sum). Atomic: on a throw nothing changed.
   */
  apply(global: Float32Array, sum: Float32Array, rng: Rng): Float32Array {
    const { dimension, learningRate, momentum, denominator, restartEvery } = this.options;
    assertLength('global', global, dimension);
    assertFinite('global', global);
    const restart = this.#anchor === null || (restartEvery > 0 && this.#tree.steps >= restartEvery);
    const before = this.#tree.state();
    if (restart) this.#tree.restart();
    let prefix: Float32Array;
    try {
      prefix = this.#tree.add(sum, rng);
    } catch (err) {
      this.#tree.restore(before);
      throw err;
    }
    const anchor = restart ? global.slice() : this.#anchor!;
    const m = restart ? new Float32Array(dimension) : this.#momentum.slice();
    const next = new Float32Array(dimension);
    for (let i = 0; i < dimension; i++) {
      m[i] = momentum * m[i]! + prefix[i]! / denominator;
      next[i] = anchor[i]! + learningRate * m[i]!;
    }
    this.#anchor = anchor;
    this.#momentum = m;
    if (restart) this.#trees++;
    return next;
  }

  /** The state as a strategy snapshot (vectors and counters), to commit with the version. */
  state(): StrategyState {
    const tree = this.#tree.state();
    const out: Record<string, Float32Array | number> = {
      [KEY.steps]: tree.steps,
      [KEY.trees]: this.#trees,
      [KEY.sum]: tree.sum,
      [KEY.momentum]: this.#momentum.slice(),
    };
    if (this.#anchor) out[KEY.anchor] = this.#anchor.slice();
    for (const [level, noise] of tree.noise) out[`${KEY.noise}${level}`] = noise;
    return out;
  }

  /** Replace the state with a snapshot from {@link FtrlServer.state}; refuses a malformed one. */
  restore(state: StrategyState): void {
    const { dimension } = this.options;
    const steps = readStateCount(state, KEY.steps);
    const trees = readStateCount(state, KEY.trees);
    const noise = new Map<number, Float32Array>();
    for (const key of Object.keys(state)) {
      if (!key.startsWith(KEY.noise)) continue;
      const level = Number(key.slice(KEY.noise.length));
      if (!Number.isInteger(level) || level < 0 || level > 60) {
        throw new PollenError('INVALID_ARGUMENT', `strategy state "${key}" is not a tree level`);
      }
      noise.set(level, readStateVector(state, key, dimension));
    }
    const anchor = state[KEY.anchor] === undefined ? null : readStateVector(state, KEY.anchor, dimension);
    if ((anchor === null) !== (steps === 0 && trees === 0)) {
      throw new PollenError(
        'INVALID_ARGUMENT',
        'strategy state "ftrl.anchor" expected exactly once a round was applied',
      );
    }
    const momentum = readStateVector(state, KEY.momentum, dimension);
    const tree = new TreeAggregator(dimension, this.options.noiseStd);
    tree.restore({ steps, sum: readStateVector(state, KEY.sum, dimension), noise });
    this.#tree.restore(tree.state());
    this.#anchor = anchor;
    this.#momentum = momentum;
    this.#trees = trees;
  }
}
