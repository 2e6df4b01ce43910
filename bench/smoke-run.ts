import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { runBench } from './lib/run-bench.ts';

/**
 * Run the given suites of `pnpm bench` at tiny sizes (real coordinator processes, real Node
 * clients, a real Chromium tab) and check every row and the table; returns the table.
 */
export async function smokeBench(only: readonly string[]): Promise<string> {
  const out = mkdtempSync(join(tmpdir(), 'pollen-bench-smoke-'));
  try {
    const results = await runBench(
      { tiny: true, runs: 1, only: [...only], outDir: join(out, 'bench'), log: () => undefined },
      'smoke',
    );
    expect(results.failures).toEqual([]);
    for (const suite of only) expect(results.rows.some((r) => r.suite === suite)).toBe(true);
    for (const row of results.rows) {
      if (row.value === null) expect(row.waitsOn?.issue).toBeGreaterThan(0);
      else expect(Number.isFinite(row.value)).toBe(true);
    }
    expect(existsSync(join(out, 'bench', 'latest.json'))).toBe(true);
    const table = readFileSync(join(out, 'bench', 'latest.md'), 'utf8');
    expect(table).toContain('| suite | figure | value | baseline | ratio | notes |');
    return table;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
