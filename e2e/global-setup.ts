import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * One MNIST cache for the whole Playwright run: every coordinator process a spec starts reads
 * POLLEN_MNIST_CACHE; the first converts the npm package's JSON into it (written atomically),
 * the others read the compact copy instead of converting it again. Removed when the run ends.
 */
export default function globalSetup(): () => void {
  if (process.env.POLLEN_MNIST_CACHE) return () => {};
  const dir = mkdtempSync(join(tmpdir(), 'pollen-mnist-e2e-'));
  process.env.POLLEN_MNIST_CACHE = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
