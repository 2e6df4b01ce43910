import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

describe('MNIST split', () => {
  // It converts the package's 41 MB of JSON twice (the first load, and the damaged cache's
  // rebuild): seconds on a quiet machine, more than the default 30 s on a busy one.
  it('is 8,000 + 2,000 real digits, the same from the package and from the binary cache', {
    timeout: 120_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pollen-mnist-'));
    try {
      vi.resetModules();
      const first = await import('./mnist.ts');
      first.useMnistCache(dir);
      const fromJson = first.loadMnist();
      expect(fromJson.train.count).toBe(8000);
      expect(fromJson.test.count).toBe(2000);
      expect(new Set(fromJson.test.labels).size).toBe(10);
      expect(readdirSync(dir).sort()).toEqual(['mnist-test-v1.bin', 'mnist-train-v1.bin']);

      vi.resetModules();
      const second = await import('./mnist.ts');
      second.useMnistCache(dir);
      const fromCache = second.loadMnist();
      expect(fromCache.train.labels).toEqual(fromJson.train.labels);
      expect(fromCache.test.pixels).toEqual(fromJson.test.pixels);

      // A damaged cache is rebuilt, not trusted.
      writeFileSync(join(dir, 'mnist-test-v1.bin'), 'garbage');
      vi.resetModules();
      const third = await import('./mnist.ts');
      third.useMnistCache(dir);
      expect(third.loadMnist().test.labels).toEqual(fromJson.test.labels);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
