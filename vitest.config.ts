import { defineConfig } from 'vitest/config';
import type { TestSpecification } from 'vitest/node';
import { BaseSequencer } from 'vitest/node';

/**
 * Three layers, each a Vitest project, all run by `npm test` (`pnpm test:unit`,
 * `pnpm test:integration`, `pnpm test:system` run one each):
 * - unit: pure code, milliseconds a file: the packages, the web client's modules, the
 *   coordinator's pure helpers, the documentation's links;
 * - integration: a coordinator in this process (Fastify `inject`, Socket.io on 127.0.0.1:0, a
 *   SQLite file), tfjs training and evaluation, the benchmarks at toy sizes;
 * - system: whole processes (started, killed, restarted), PostgreSQL and Redis, Chromium, the
 *   documented start commands.
 * A new test file lands in unit under packages/ and in integration under apps/coordinator/
 * unless it is listed below (tfjs training counts as integration).
 */
const SYSTEM = [
  'apps/coordinator/src/cluster/cluster.test.ts',
  'apps/coordinator/src/cluster/failover.test.ts',
  'apps/coordinator/src/cluster/lease.test.ts',
  'apps/coordinator/src/crash.test.ts',
  'apps/coordinator/src/fault.test.ts',
  'apps/coordinator/src/fault-overlap.test.ts',
  'apps/coordinator/src/store/contract.test.ts',
  'apps/coordinator/src/store/migrate.test.ts',
  'apps/coordinator/src/store/retention-contract.test.ts',
  'bench/bench.smoke.test.ts',
  'bench/bench-rounds.smoke.test.ts',
  'bench/bench-coordinator.smoke.test.ts',
  'bench/sim.smoke.test.ts',
  'bench/sim-task.smoke.test.ts',
  'scripts/start.test.ts',
];

/** Coordinator and bench files that need no server, no tfjs and no process. */
const PURE_ELSEWHERE = [
  'apps/coordinator/src/config.test.ts',
  'apps/coordinator/src/data/builtin.test.ts',
  'apps/coordinator/src/ml/held-out-sample.test.ts',
  'apps/coordinator/src/store/retention.test.ts',
  'apps/coordinator/src/cluster/partials.test.ts',
  'apps/coordinator/src/cluster/relay-handle.test.ts',
  'apps/coordinator/src/rounds/coordinates.test.ts',
  'apps/coordinator/src/rounds/rate-limit.test.ts',
  'apps/coordinator/src/rounds/upload-slots.test.ts',
  'apps/coordinator/src/store/strategy-state.test.ts',
  'bench/sim/options.test.ts',
  'bench/sim/data-option.test.ts',
  'scripts/doc-links.test.ts',
];

/**
 * Files that train or evaluate with tfjs: its backends are process-wide state, and it takes
 * seconds. @pollen/ml's text/ folder is pure (no tfjs): its tests are unit tests.
 */
const TFJS = [
  'apps/web-client/src/worker/train.test.ts',
  'packages/ml/src/*.test.ts',
  'packages/ml/src/data/**/*.test.ts',
  'packages/ml/src/layers/**/*.test.ts',
];

/**
 * The longest files of each layer, started first so that two workers finish together: on a
 * clean clone Vitest has no timings cached and would start them in directory order.
 */
const LONGEST_FIRST = [
  'apps/coordinator/src/fault.test.ts',
  'bench/bench-rounds.smoke.test.ts',
  'bench/bench-coordinator.smoke.test.ts',
  'bench/bench.smoke.test.ts',
  'apps/coordinator/src/cluster/failover.test.ts',
  'apps/coordinator/src/fault-overlap.test.ts',
  'scripts/start.test.ts',
  'apps/coordinator/src/rounds/compression.test.ts',
  'apps/coordinator/src/abuse.test.ts',
  'apps/coordinator/src/rounds/secagg-round.test.ts',
];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (spec: TestSpecification): number => {
      const at = LONGEST_FIRST.findIndex((file) => spec.moduleId.endsWith(file));
      return at === -1 ? LONGEST_FIRST.length : at;
    };
    // Array.prototype.sort is stable: Vitest's own order (cached timings) within each rank.
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    environment: 'node',
    // A long file's first test warms tfjs and Socket.io up while the browser specs run beside it.
    testTimeout: 90_000,
    hookTimeout: 60_000,
    // Tests wait on held-out evaluations; beside the browser specs a niced evaluator thread
    // (the coordinator's default) gets almost no CPU and a 2-second test takes 40.
    env: { POLLEN_EVALUATOR_NICE: '0' },
    pool: 'forks',
    sequence: { sequencer: LongestFirst },
    // The MNIST digits are converted once per run into a directory every file shares.
    globalSetup: ['apps/coordinator/src/testing/vitest-setup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          // Projects with different worker counts run as ordered groups, one after the other.
          sequence: { groupOrder: 0 },
          // Pure code keeps no state between files: one set of threads, modules loaded once.
          pool: 'threads',
          isolate: false,
          include: ['packages/*/src/**/*.test.ts', 'apps/web-client/src/**/*.test.ts', ...PURE_ELSEWHERE],
          exclude: [...TFJS, '**/node_modules/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          sequence: { groupOrder: 1 },
          // Files share a worker's modules (tfjs, Fastify, Socket.io, the coordinator): a fresh
          // process per file spent most of this layer importing them again.
          isolate: false,
          // Two files at a time (Vitest's default on two cores is one): much of a file's time
          // is sockets, timers and worker threads waiting on each other.
          maxWorkers: 2,
          include: [
            'apps/coordinator/src/**/*.test.ts',
            'bench/**/*.test.ts',
            'scripts/**/*.test.ts',
            ...TFJS,
          ],
          exclude: [...PURE_ELSEWHERE, ...SYSTEM, '**/node_modules/**'],
        },
      },
      {
        extends: true,
        // Two files at a time: these mostly wait on child processes and servers, and Vitest's
        // default on a two-core machine is one.
        test: {
          name: 'system',
          sequence: { groupOrder: 2 },
          include: SYSTEM,
          testTimeout: 120_000,
          maxWorkers: 2,
        },
      },
    ],
  },
});
