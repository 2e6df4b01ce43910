import { FtrlServer, PollenError, type Rng, type ServerStrategy, type TaskSpec } from '@pollen/fl-core';

/**
 * A DP-FTRL task's server side as the committer drives any strategy: FTRL with momentum on
 * the noisy prefix sums of a tree (fl-core privacy/ftrl.ts), with the task's
 * strategy.serverLr and strategy.momentum, each tree node noised with std z * C from `rng`
 * (the coordinator's CSPRNG: central DP), the round sums divided by the public
 * rounds.cohortSize. Its state (tree, anchor, momentum) commits with each version as a
 * strategy state does, so a restarted coordinator continues the same tree.
 *
 * `apply` takes the round's sum of clipped updates, not a mean: see {@link ftrlRoundSum}.
 */
export function ftrlServerStrategy(spec: TaskSpec, dimension: number, rng: Rng): ServerStrategy {
  const privacy = spec.privacy;
  if (privacy.mode !== 'ftrl') {
    throw new PollenError('INTERNAL', `task "${spec.id}" is not in privacy mode "ftrl"`);
  }
  const server = new FtrlServer({
    dimension,
    learningRate: spec.strategy.serverLr,
    momentum: spec.strategy.momentum,
    noiseStd: privacy.noiseMultiplier * privacy.clipNorm,
    denominator: spec.rounds.cohortSize,
    restartEvery: privacy.restartEvery,
  });
  return {
    config: spec.strategy,
    dimension,
    control: () => null,
    apply: (global, sum) => server.apply(global, sum, rng),
    state: () => server.state(),
    restore: (state) => server.restore(state),
  };
}

/**
 * The round's sum of clipped updates from its aggregate: a private round's mean is that sum
 * over the public count of expected reports (McMahan et al. 2018), so the sum is the mean
 * times that count. The tree adds to sums, whose sensitivity to one client is C.
 */
export function ftrlRoundSum(mean: Float32Array, expectedReports: number): Float32Array {
  return mean.map((v) => v * expectedReports);
}
