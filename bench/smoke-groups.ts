/**
 * The benchmark suites of the three smoke test files, so the test layer runs them side by side
 * (bench.smoke.test.ts, bench-rounds.smoke.test.ts and bench-coordinator.smoke.test.ts);
 * together they cover every suite.
 */
export const SMOKE_GROUPS = {
  /** Measurements in one process or one tab. */
  compute: ['backends', 'aggregation', 'compression', 'secagg', 'secagg-unmask', 'secagg-browser'],
  /** Simulations of a population with Node clients. */
  rounds: ['time-to-accuracy', 'async'],
  /** Coordinator processes under Node clients. */
  coordinator: ['capacity', 'commit-latency', 'big-models'],
} as const;
