import { join } from 'node:path';
import { RESULTS_DIR } from '../lib/paths.ts';
import { median, sig } from '../lib/stats.ts';
import { parseSimArgs } from '../sim/options.ts';
import type { SimReport } from '../sim/report.ts';
import { runSim } from '../sim/run.ts';
import type { BenchContext, BenchRow, Suite } from './types.ts';

/** Added delay before each upload: log-normal, median 1 s, 95th percentile 10 s. */
const LATENCY = '1,10';

interface Outcome {
  /** Seconds from the first round's start to the version that reached the target, or null. */
  readonly seconds: number | null;
  /** Updates the coordinator took in per minute of training (first round's start to last close). */
  readonly updatesPerMinute: number;
  readonly versions: number;
}

function outcome(report: SimReport): Outcome {
  const rounds = report.rounds;
  const span = Math.max(0, ...rounds.map((r) => r.elapsedS));
  const updates = rounds.reduce((n, r) => n + r.reported, 0);
  return {
    seconds: report.summary.secondsToTarget,
    updatesPerMinute: span > 0 ? updates / (span / 60) : 0,
    versions: report.summary.committed,
  };
}

/**
 * One Node simulation, synchronous rounds or FedBuff, on the same population, partition, seed
 * and upload latencies: the clients train the real MLP with the browser worker's code; only
 * the coordinator's scheduling differs. Both keep at most ceil(cohort * 1.3) clients training:
 * a synchronous round selects that many and closes at `cohort` reports; FedBuff hands the model
 * to that many and commits every K = cohort updates.
 */
async function simulate(
  mode: 'sync' | 'fedbuff',
  sizes: { clients: number; cohort: number; target: number; seed: number; tiny: boolean },
): Promise<Outcome> {
  const args = ['--node', String(sizes.clients), '--cohort', String(sizes.cohort), '--partition', 'iid'];
  args.push('--latency', LATENCY, '--target', String(sizes.target), '--rounds', '60', '--deadline', '30');
  args.push('--seed', String(sizes.seed), '--quiet', '--timeout', sizes.tiny ? '240' : '600');
  if (sizes.tiny) args.push('--epochs', '1', '--batch', '32');
  if (mode === 'fedbuff') args.push('--async', String(sizes.cohort));
  args.push('--out', join(RESULTS_DIR, 'sim', `bench-async-${mode}-${sizes.seed}`));
  const report = await runSim(parseSimArgs(args), { command: `bench async ${mode}` });
  if (report.error) throw new Error(`the ${mode} simulation failed: ${report.error}`);
  return outcome(report);
}

/**
 * Synchronous rounds against buffered asynchronous aggregation (FedBuff, Nguyen et al. 2022)
 * under long-tailed upload latency: wall time to a held-out accuracy target and updates taken
 * in per minute, each the median of `runs` runs with seeds 1..runs, both modes on the same seed.
 */
export const asyncSuite: Suite = {
  id: 'async',
  title: 'Synchronous vs buffered asynchronous rounds',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const sizes = ctx.tiny
      ? { clients: 6, cohort: 3, target: 0.6, tiny: true }
      : { clients: 20, cohort: 10, target: 0.9, tiny: false };
    const runs: Record<'sync' | 'fedbuff', Outcome[]> = { sync: [], fedbuff: [] };
    for (let r = 0; r < ctx.runs; r++) {
      for (const mode of ['sync', 'fedbuff'] as const) {
        ctx.log(`async: ${mode}, run ${r + 1}/${ctx.runs}`);
        runs[mode].push(await simulate(mode, { ...sizes, seed: r + 1 }));
      }
    }
    const seconds = (mode: 'sync' | 'fedbuff'): number | null => {
      const reached = runs[mode].map((o) => o.seconds).filter((s): s is number => s !== null);
      return reached.length ? median(reached) : null;
    };
    const rate = (mode: 'sync' | 'fedbuff'): number => median(runs[mode].map((o) => o.updatesPerMinute));
    const syncS = seconds('sync');
    const bufS = seconds('fedbuff');
    const setup = `${sizes.clients} Node clients, IID, MLP 784-128-10, upload latency log-normal median 1 s p95 10 s; sync: cohort ${sizes.cohort} of ${Math.ceil(sizes.cohort * 1.3)} selected; FedBuff: K = ${sizes.cohort}, ${Math.ceil(sizes.cohort * 1.3)} training at once, s(tau) = (1 + tau)^-1/2`;
    return [
      {
        suite: 'async',
        name: `seconds to ${sizes.target} held-out accuracy, FedBuff (${setup})`,
        value: bufS === null ? null : sig(bufS),
        unit: 's',
        baseline: {
          name: 'synchronous rounds, same clients, seeds and latencies',
          value: syncS === null ? null : sig(syncS),
          unit: 's',
        },
        ratio: bufS !== null && syncS !== null ? sig(bufS / syncS) : null,
        ratioMeaning: 'x the synchronous time (below 1: FedBuff is faster)',
        runs: ctx.runs,
        extra: {
          runsReachingTarget: runs.fedbuff.filter((o) => o.seconds !== null).length,
          syncRunsReachingTarget: runs.sync.filter((o) => o.seconds !== null).length,
          versions: median(runs.fedbuff.map((o) => o.versions)),
          syncVersions: median(runs.sync.map((o) => o.versions)),
        },
      },
      {
        suite: 'async',
        name: 'updates taken in per minute, FedBuff, same setup',
        value: sig(rate('fedbuff')),
        unit: 'updates/min',
        baseline: { name: 'synchronous rounds', value: sig(rate('sync')), unit: 'updates/min' },
        ratio: rate('sync') > 0 ? sig(rate('fedbuff') / rate('sync')) : null,
        ratioMeaning: 'x the synchronous rate',
        runs: ctx.runs,
        note: "from the first round's start to the last close; a run stops once it reaches the target",
      },
    ];
  },
};
