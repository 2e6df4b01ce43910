import { describe, expect, it } from 'vitest';
import { SMOKE_GROUPS } from './smoke-groups.ts';
import { smokeBench } from './smoke-run.ts';

// A third of `pnpm bench`'s smoke variant (smoke-groups.ts): the simulations with Node clients.
// About 35 s alone on two idle cores; the bound leaves room for a loaded machine.

describe('pnpm bench', () => {
  it('runs the simulation suites at tiny sizes and writes the table', async () => {
    const table = await smokeBench(SMOKE_GROUPS.rounds);
    // The synchronous-vs-FedBuff row measures now (issue 7).
    expect(table).toMatch(/\| async \| seconds to 0\.6 held-out accuracy, FedBuff .*\| [\d.]+ s \|/);
  }, 400_000);
});
