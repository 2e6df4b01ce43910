import { describe, expect, it } from 'vitest';
import { SMOKE_GROUPS } from './smoke-groups.ts';
import { smokeBench } from './smoke-run.ts';

// The other half of `pnpm bench`'s smoke variant (bench.smoke.test.ts has the first): the
// suites that run simulations and coordinator processes with Node clients.

describe('pnpm bench', () => {
  it('runs the simulation and coordinator suites at tiny sizes and writes the table', async () => {
    const table = await smokeBench(SMOKE_GROUPS.rounds);
    // The synchronous-vs-FedBuff row measures now (issue 7).
    expect(table).toMatch(/\| async \| seconds to 0\.6 held-out accuracy, FedBuff .*\| [\d.]+ s \|/);
  }, 180_000);
});
