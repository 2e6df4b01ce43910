import type { BenchContext, BenchRow, Suite } from './types.ts';

/**
 * Synchronous rounds against buffered asynchronous aggregation (FedBuff) under long-tailed
 * device latency. The coordinator runs synchronous rounds only, so there is nothing to
 * compare yet; the row says so rather than measure a stand-in.
 */
export const asyncSuite: Suite = {
  id: 'async',
  title: 'Synchronous vs buffered asynchronous rounds',
  async run(_ctx: BenchContext): Promise<BenchRow[]> {
    return [
      {
        suite: 'async',
        name: 'wall time to 0.9 held-out accuracy under long-tailed latency (pnpm sim --latency), buffered async',
        value: null,
        unit: 's',
        baseline: { name: 'synchronous rounds, same latency', value: null, unit: 's' },
        ratio: null,
        ratioMeaning: 'x the synchronous time',
        runs: 0,
        waitsOn: {
          issue: 7,
          why: 'the coordinator has no buffered asynchronous mode or overlapping rounds yet',
        },
      },
    ];
  },
};
