import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBench, SUITES } from './lib/run-bench.ts';

// The smoke variant of `pnpm bench`: real coordinator processes, real Node clients, a real
// Chromium tab, every suite at tiny sizes. The full runs are not part of the test suite.

const out = mkdtempSync(join(tmpdir(), 'pollen-bench-smoke-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('pnpm bench', () => {
  it('runs every suite at tiny sizes and writes the table', async () => {
    const results = await runBench(
      { tiny: true, runs: 1, only: [], outDir: join(out, 'bench'), log: () => undefined },
      'smoke',
    );
    expect(results.failures).toEqual([]);
    for (const suite of SUITES) expect(results.rows.some((r) => r.suite === suite.id)).toBe(true);
    for (const row of results.rows) {
      if (row.value === null) expect(row.waitsOn?.issue).toBeGreaterThan(0);
      else expect(Number.isFinite(row.value)).toBe(true);
    }
    expect(existsSync(join(out, 'bench', 'latest.json'))).toBe(true);
    const table = readFileSync(join(out, 'bench', 'latest.md'), 'utf8');
    expect(table).toContain('| suite | figure | value | baseline | ratio | notes |');
    // The synchronous-vs-FedBuff row measures now (issue 7).
    expect(table).toMatch(/\| async \| seconds to 0\.6 held-out accuracy, FedBuff .*\| [\d.]+ s \|/);
  }, 180_000);
});
