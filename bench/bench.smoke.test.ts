import { describe, expect, it } from 'vitest';
import { SUITES } from './lib/run-bench.ts';
import { SMOKE_GROUPS } from './smoke-groups.ts';
import { smokeBench } from './smoke-run.ts';

// The smoke variant of `pnpm bench`, every suite at tiny sizes, in three files that run side by
// side (smoke-groups.ts). The full runs are not part of the test suite.

describe('pnpm bench', () => {
  it('the smoke files cover every suite', () => {
    const covered = Object.values(SMOKE_GROUPS).flat().sort();
    expect(covered).toEqual(SUITES.map((s) => s.id).sort());
  });

  it('runs the in-process and in-tab suites at tiny sizes and writes the table', async () => {
    await smokeBench(SMOKE_GROUPS.compute);
  }, 300_000);
});
