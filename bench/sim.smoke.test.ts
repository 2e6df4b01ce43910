import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSimArgs } from './sim/options.ts';
import { runSim } from './sim/run.ts';

// The smoke variant of `pnpm sim`: a real coordinator process, real Node clients, tiny sizes
// (bench.smoke.test.ts runs `pnpm bench`'s). The full runs are not part of the test suite.

const out = mkdtempSync(join(tmpdir(), 'pollen-bench-smoke-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('pnpm sim', () => {
  it('runs 3 Node clients for 2 secure rounds (SecAgg+) against a coordinator process and writes its report', async () => {
    const options = parseSimArgs(
      [
        '--node',
        '3',
        '--rounds',
        '2',
        '--partition',
        'iid',
        '--epochs',
        '1',
        '--batch',
        '32',
        '--lr',
        '0.1',
        '--secagg',
      ].concat(['--quiet', '--out', join(out, 'sim')]),
    );
    const report = await runSim(options, { command: 'smoke' });
    expect(report.error).toBeNull();
    expect(report.summary).toMatchObject({
      sim: 'node',
      clients: 3,
      committed: 2,
      ok: true,
      stopped: 'completed',
    });
    expect(report.rounds.map((r) => r.reported)).toEqual([3, 3]);
    expect(report.task).toMatchObject({ secureAggregation: true });
    expect(report.summary.accuracy).toBeGreaterThan(0.6);
    expect(report.summary.bytesUp).toBeGreaterThan(0);
    expect(report.population.uploads).toBe(6);
    const saved = JSON.parse(readFileSync(join(out, 'sim', 'report.json'), 'utf8'));
    expect(saved.summary).toEqual(report.summary);
    expect(readFileSync(join(out, 'sim', 'plot.html'), 'utf8')).toContain('<svg');
  }, 120_000);
});
