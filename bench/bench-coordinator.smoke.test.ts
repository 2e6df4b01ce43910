import { describe, it } from 'vitest';
import { SMOKE_GROUPS } from './smoke-groups.ts';
import { smokeBench } from './smoke-run.ts';

// A third of `pnpm bench`'s smoke variant (smoke-groups.ts): coordinator processes under Node
// clients. About 40 s alone on two idle cores; the bound leaves room for a loaded machine.

describe('pnpm bench', () => {
  it('runs the coordinator suites at tiny sizes and writes the table', async () => {
    await smokeBench(SMOKE_GROUPS.coordinator);
  }, 400_000);
});
