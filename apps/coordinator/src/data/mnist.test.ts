import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

describe('MNIST split', () => {
  // The run's global setup converted the package's 41 MB of JSON into POLLEN_MNIST_CACHE; this
  // test converts it once more (a damaged copy of that cache is rebuilt from the package), which
  // takes seconds on a quiet machine and more than the default 30 s on a busy one.
  it('is 8,000 + 2,000 real digits, the same from the package and from the binary cache', {
    timeout: 120_000,
  }, async () => {
    const shared = process.env.POLLEN_MNIST_CACHE!;
    expect(
      readdirSync(shared)
        .filter((f) => f.endsWith('.bin'))
        .sort(),
    ).toEqual(['mnist-test-v1.bin', 'mnist-train-v1.bin']);
    const dir = mkdtempSync(join(tmpdir(), 'pollen-mnist-'));
    try {
      vi.resetModules();
      const first = await import('./mnist.ts');
      first.useMnistCache(shared);
      const fromCache = first.loadMnist();
      expect(fromCache.train.count).toBe(8000);
      expect(fromCache.test.count).toBe(2000);
      expect(new Set(fromCache.test.labels).size).toBe(10);

      // A damaged cache is rebuilt from the package, not trusted: the same digits, the same bytes.
      copyFileSync(join(shared, 'mnist-train-v1.bin'), join(dir, 'mnist-train-v1.bin'));
      writeFileSync(join(dir, 'mnist-test-v1.bin'), 'garbage');
      vi.resetModules();
      const second = await import('./mnist.ts');
      second.useMnistCache(dir);
      const fromJson = second.loadMnist();
      expect(fromJson.train.labels).toEqual(fromCache.train.labels);
      expect(fromJson.test.labels).toEqual(fromCache.test.labels);
      expect(fromJson.test.pixels).toEqual(fromCache.test.pixels);
      for (const file of ['mnist-train-v1.bin', 'mnist-test-v1.bin'])
        expect(readFileSync(join(dir, file)).equals(readFileSync(join(shared, file)))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
