/**
 * The benchmark suites of the two smoke test files, so the test layer runs them side by side
 * (bench.smoke.test.ts and bench-rounds.smoke.test.ts); together they cover every suite.
 */
export const SMOKE_GROUPS = {
  /** Measurements in one process or one tab. */
  compute: ['backends', 'aggregation', 'compression', 'secagg', 'secagg-unmask', 'secagg-browser'],
  /** Simulations and coordinator processes with Node clients. */
  rounds: ['time-to-accuracy', 'async', 'capacity', 'commit-latency', 'big-models'],
} as const;
