import { median, sig, sleep } from '../lib/stats.ts';
import { type CoordinatorProcess, startCoordinator } from '../sim/coordinator.ts';
import { startNodePopulation } from '../sim/node-population.ts';
import type { Population } from '../sim/population.ts';
import type { ApiRound } from '../sim/report.ts';
import type { BenchContext, BenchRow, Suite } from './types.ts';

const TASK = 'capacity';

function roundsSpec(cohort: number): Record<string, number> {
  return {
    cohortSize: cohort,
    minReports: cohort,
    minClients: cohort,
    overSelection: 1,
    deadlineMs: 20_000,
    maxRounds: 0,
  };
}

/** Rounds committed per minute over the next `windowMs`, after a second to settle. */
async function roundsPerMinute(coordinator: CoordinatorProcess, windowMs: number): Promise<number> {
  await sleep(Math.min(1000, windowMs));
  const before = await coordinator.get<ApiRound[]>(`/api/tasks/${TASK}/rounds?limit=1000`);
  const seen = new Set(before.map((r) => r.roundId));
  const from = Date.now();
  await sleep(windowMs);
  const to = Date.now();
  const rounds = await coordinator.get<ApiRound[]>(`/api/tasks/${TASK}/rounds?limit=1000`);
  const committed = rounds.filter(
    (r) => r.status === 'committed' && !seen.has(r.roundId) && (r.endedAt ?? 0) <= to,
  );
  return (committed.length * 60_000) / (to - from);
}

interface Run {
  /** Rounds per minute: cohort only connected; many connected; many connected, big cohort. */
  readonly rpm: [number, number, number];
  readonly helloMsFew: number;
  readonly helloMsMany: number;
  readonly hellosPerSecond: number;
  readonly connected: number;
}

/**
 * One coordinator, load-generating Node clients (no data, no training: each answers a round
 * with a zero update at once, so the coordinator is the bottleneck). First only the cohort is
 * connected (the baseline), then the population grows to `many`, then the cohort grows by
 * PATCHing the task's rounds through the operator API.
 */
async function measureRun(many: number, cohort: number, bigCohort: number, windowMs: number): Promise<Run> {
  const coordinator = await startCoordinator({
    task: {
      id: TASK,
      name: 'Capacity benchmark',
      model: { kind: 'mlp', hidden: [128] },
      dataset: { name: 'mnist', partition: { kind: 'iid' }, numShards: 20, seed: 1 },
      rounds: roundsSpec(cohort),
    },
  });
  const populations: (Population & { clients: readonly { helloMs: number }[] })[] = [];
  try {
    const start = (count: number, prefix: string, concurrency: number) =>
      startNodePopulation({
        url: coordinator.url,
        taskId: TASK,
        count,
        concurrency,
        behaviour: null,
        train: false,
        idPrefix: prefix,
      });
    const few = await start(cohort, 'few', 1);
    populations.push(few);
    const rpmFew = await roundsPerMinute(coordinator, windowMs);
    const started = performance.now();
    const rest = await start(many - cohort, 'many', 50);
    const connectS = (performance.now() - started) / 1000;
    populations.push(rest);
    const { connected } = await coordinator.get<{ connected: number }>('/healthz');
    const rpmMany = await roundsPerMinute(coordinator, windowMs);
    await coordinator.send('PATCH', `/api/tasks/${TASK}`, { rounds: roundsSpec(bigCohort) });
    const rpmBig = await roundsPerMinute(coordinator, windowMs);
    return {
      rpm: [rpmFew, rpmMany, rpmBig],
      helloMsFew: median(few.clients.map((c) => c.helloMs)),
      helloMsMany: median(rest.clients.map((c) => c.helloMs)),
      hellosPerSecond: (many - cohort) / connectS,
      connected,
    };
  } finally {
    for (const p of populations) await p.close();
    await coordinator.stop();
  }
}

/**
 * Coordinator capacity: clients connected at once (bounded by the harness), and committed
 * rounds per minute with a large population and a larger cohort, against only the cohort
 * connected.
 */
export const capacitySuite: Suite = {
  id: 'capacity',
  title: 'Coordinator capacity',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const many = ctx.tiny ? 30 : 1000;
    const cohort = ctx.tiny ? 3 : 10;
    const bigCohort = ctx.tiny ? 10 : 100;
    const windowMs = ctx.tiny ? 1000 : 20_000;
    const runs: Run[] = [];
    for (let r = 0; r < ctx.runs; r++) {
      ctx.log(`capacity: run ${r + 1}/${ctx.runs} (${many} clients)`);
      runs.push(await measureRun(many, cohort, bigCohort, windowMs));
    }
    const rpm = [0, 1, 2].map((i) => median(runs.map((r) => r.rpm[i]!)));
    const baseline = {
      name: `only the cohort (${cohort}) connected`,
      value: sig(rpm[0]!),
      unit: 'rounds/min',
    };
    const connected = Math.min(...runs.map((r) => r.connected));
    const helloFew = median(runs.map((r) => r.helloMsFew));
    const helloMany = median(runs.map((r) => r.helloMsMany));
    return [
      {
        suite: 'capacity',
        name: `clients connected at once (${many} started, 50 connecting at a time)`,
        value: connected,
        unit: 'clients',
        baseline: {
          name: 'hello round trip, clients connecting one at a time',
          value: sig(helloFew),
          unit: 'ms',
        },
        ratio: sig(helloMany / helloFew),
        ratioMeaning: 'x the baseline hello round trip, 50 connecting at a time',
        runs: ctx.runs,
        extra: { helloMs: sig(helloMany), hellosPerSecond: sig(median(runs.map((r) => r.hellosPerSecond))) },
        note: 'the count is the harness bound, not a limit the coordinator reached',
      },
      ...[
        [1, `${many} connected, cohort ${cohort}`],
        [2, `${many} connected, cohort ${bigCohort}`],
      ].map(
        ([i, label]): BenchRow => ({
          suite: 'capacity',
          name: `committed rounds/min, ${label} (zero updates sent at once, d = 101,770)`,
          value: sig(rpm[i as number]!),
          unit: 'rounds/min',
          baseline,
          ratio: sig(rpm[i as number]! / rpm[0]!),
          ratioMeaning: 'x the baseline',
          runs: ctx.runs,
          extra: { connected },
        }),
      ),
    ];
  },
};
