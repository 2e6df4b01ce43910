import { defineConfig } from '@playwright/test';

/**
 * End-to-end specs drive Debian's Chromium (Playwright cannot download a browser here).
 * Each spec starts its own coordinator on a free loopback port with a temporary data
 * directory. Two spec files run at a time (the tests of a file in order): much of a spec's time
 * is waiting on rounds, deadlines and reconnections, and the machines this runs on have two
 * cores.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

export default defineConfig({
  testDir: 'e2e',
  globalSetup: './e2e/global-setup.ts',
  timeout: 6 * 60_000,
  expect: { timeout: 30_000 },
  workers: 2,
  fullyParallel: false,
  retries: 0,
  reporter: [['list'], ['json', { outputFile: 'test-results/e2e-results.json' }]],
  outputDir: 'test-results/artifacts',
  use: {
    headless: true,
    launchOptions: {
      executablePath: process.env.POLLEN_CHROMIUM ?? '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
    },
    screenshot: 'only-on-failure',
    trace: 'off',
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
});
