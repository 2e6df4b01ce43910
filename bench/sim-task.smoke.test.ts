import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSimArgs } from './sim/options.ts';
import { runSim } from './sim/run.ts';

// `pnpm sim --task --data` at toy size: a real coordinator process evaluating the held-out
// split of the regression CSV, real Node clients each training on its own rows.

const out = mkdtempSync(join(tmpdir(), 'pollen-sim-task-smoke-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));
const here = import.meta.dirname;

describe('pnpm sim --task --data', () => {
  it('runs the regression task on 3 Node clients for 2 rounds and reports its metrics by name', async () => {
    const options = parseSimArgs([
      '--node',
      '3',
      '--rounds',
      '2',
      '--task',
      resolve(here, 'tasks/regression.task.json'),
      '--data',
      resolve(here, 'data/regression.csv'),
      '--partition',
      'column:user',
      '--epochs',
      '1',
      '--quiet',
      '--out',
      join(out, 'sim'),
    ]);
    const report = await runSim(options, { command: 'smoke' });
    expect(report.error).toBeNull();
    expect(report.summary).toMatchObject({
      clients: 3,
      committed: 2,
      ok: true,
      stopped: 'completed',
      accuracy: null,
    });
    expect(report.data).toMatchObject({ rows: 5000, trainExamples: 4000, heldOutExamples: 1000 });
    expect(report.rounds.map((r) => r.reported)).toEqual([3, 3]);
    // The held-out split is uploaded once the task exists: version 0 was scored before, on nothing.
    expect(report.initialMetrics).toBeNull();
    for (const r of report.rounds.map((r) => r.metrics)) {
      expect(Object.keys(r ?? {}).sort()).toEqual(['loss', 'mae', 'mse']);
    }
    // Two rounds already beat predicting the training mean, and the second improves on the first.
    const { baselineMse, mseRatio } = report.summary;
    expect(baselineMse).toBeGreaterThan(1);
    expect(mseRatio).toBeLessThan(0.8);
    expect(report.rounds[1]!.metrics!.mse).toBeLessThan(report.rounds[0]!.metrics!.mse!);
    const csv = readFileSync(join(out, 'sim', 'rounds.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(csv[0]).toBe('round,status,version,reported,dropped,elapsed_s,loss,mae,mse,mse_over_baseline');
    expect(csv).toHaveLength(3);
    expect(JSON.parse(readFileSync(join(out, 'sim', 'report.json'), 'utf8')).summary).toEqual(report.summary);
  }, 120_000);
});
