import { defineConfig } from 'vitest/config';

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
  'apps/coordinator/src/store/contract.test.ts',
  'apps/coordinator/src/store/migrate.test.ts',
  'bench/sim.smoke.test.ts',
  'scripts/start.test.ts',
];

/** Coordinator and bench files that need no server, no tfjs and no process. */
const PURE_ELSEWHERE = [
  'apps/coordinator/src/config.test.ts',
  'apps/coordinator/src/cluster/partials.test.ts',
  'apps/coordinator/src/rounds/coordinates.test.ts',
  'apps/coordinator/src/rounds/rate-limit.test.ts',
  'apps/coordinator/src/store/strategy-state.test.ts',
  'bench/sim/options.test.ts',
  'scripts/doc-links.test.ts',
];

/** Files that train or evaluate with tfjs: its backends are process-wide state, and it takes seconds. */
const TFJS = ['apps/web-client/src/worker/train.test.ts', 'packages/ml/src/**/*.test.ts'];

export default defineConfig({
  test: {
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The MNIST digits are converted once per run into a directory every file shares.
    globalSetup: ['apps/coordinator/src/testing/vitest-setup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
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
        test: { name: 'system', include: SYSTEM, testTimeout: 120_000 },
      },
    ],
  },
});
