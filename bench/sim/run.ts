import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { builtinTaskFile } from '@pollen/coordinator';
import { formatMetricValues, type MetricValues } from '@pollen/fl-core';
import type { Baseline } from '@pollen/ml';
import { BenchError } from '../lib/errors.ts';
import { sleep } from '../lib/stats.ts';
import { Behaviour } from './behaviour.ts';
import { startBrowserPopulation } from './browser.ts';
import { type CoordinatorProcess, startCoordinator } from './coordinator.ts';
import { uploadHeldOut } from './held-out.ts';
import { startNodePopulation } from './node-population.ts';
import { loadOpenTask, type OpenTask } from './open-task.ts';
import type { SimOptions } from './options.ts';
import { plotHtml } from './plot.ts';
import type { Population } from './population.ts';
import {
  type ApiEvaluation,
  type ApiRound,
  heldOutMse,
  machine,
  reportEvaluations,
  reportRounds,
  type SimReport,
  type SimSummary,
} from './report.ts';
import { roundsCsv } from './rounds-csv.ts';
import { builtinSimTask, SIM_TASK_ID, simTask } from './task.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const WEB_DIST = join(ROOT, 'apps/web-client/dist/index.html');
const POLL_MS = 1000;

/** The contributor page is served from the built web client: build it once if it is missing. */
function ensureWebClient(log: (line: string) => void): void {
  if (existsSync(WEB_DIST)) return;
  log('apps/web-client/dist is missing: building the web client (pnpm build)');
  const result = spawnSync('pnpm', ['--filter', '@pollen/web-client', 'build'], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (result.status !== 0 || !existsSync(WEB_DIST)) {
    throw new BenchError('BROWSER_FAILED', 'building the web client failed; run `pnpm build` and retry');
  }
}

function defaultOutDir(o: SimOptions): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const name = o.open
    ? `task-${basename(o.open.taskFile).replace(/(\.task)?\.json$/, '')}`
    : o.builtin
      ? `task-${o.builtin}`
      : o.mode;
  return join(ROOT, 'bench/results/sim', `${name}-${o.clients}c-${stamp}`);
}

interface Progress {
  readonly rounds: ApiRound[];
  readonly stopped: SimSummary['stopped'];
}

/** Follow the task until it completes, reaches the target or runs out of time. */
async function follow(
  o: SimOptions,
  coordinator: CoordinatorProcess,
  population: Population,
  started: number,
  log: (line: string) => void,
  open: OpenTask | null,
): Promise<Progress> {
  const baseline = open?.report.baselineMse ?? null;
  const versus = (r: ApiRound): string => {
    const mse = heldOutMse(r.metrics, open?.task.loss);
    return baseline && mse !== null ? ` (${(mse / baseline).toFixed(3)} of the mean's MSE)` : '';
  };
  const seen = new Set<number>();
  for (;;) {
    const [task, rounds] = await Promise.all([
      coordinator.get<{ status: string }>(`/api/tasks/${SIM_TASK_ID}`),
      coordinator.get<ApiRound[]>(`/api/tasks/${SIM_TASK_ID}/rounds?limit=1000`),
    ]);
    for (const r of [...rounds].sort((a, b) => a.roundId - b.roundId)) {
      if (r.status === 'open' || seen.has(r.roundId)) continue;
      seen.add(r.roundId);
      const wall = (((r.endedAt ?? r.startedAt) - r.startedAt) / 1000).toFixed(1);
      log(
        `round ${r.roundId} ${r.status}: ${r.reported}/${r.selected} reported, ${r.dropped} dropped, ` +
          `held-out ${formatMetricValues(r.metrics) ?? '-'}${versus(r)}, ${wall} s` +
          (r.reason ? ` (${r.reason})` : '') +
          `; ${population.connected()}/${population.size} connected`,
      );
      if (o.churn > 0) population.churn();
    }
    // Held-out metrics attach after a round's commit (docs/design.md, "Evaluation off the
    // commit path"), so every committed round is looked at again on each poll.
    const reached =
      o.target !== null &&
      rounds.some((r) => r.status === 'committed' && (r.metrics?.accuracy ?? 0) >= o.target!);
    if (reached) return { rounds, stopped: 'target' };
    if (task.status === 'completed') return { rounds, stopped: 'completed' };
    // The privacy budget ran out, or an operator stopped the task: no more rounds will come.
    if (task.status === 'budget-exhausted' || task.status === 'stopped')
      return { rounds, stopped: task.status };
    if (Date.now() - started > o.timeoutMs) return { rounds, stopped: 'timeout' };
    await sleep(POLL_MS);
  }
}

function summarise(
  o: SimOptions,
  rounds: SimReport['rounds'],
  started: number,
  firstRoundAt: number | null,
  lastRoundAt: number | null,
  stopped: SimSummary['stopped'],
  paths: { report: string; plot: string },
  open: OpenTask | null,
): Omit<SimSummary, 'federatedEvaluation'> {
  const committed = rounds.filter((r) => r.status === 'committed');
  const accuracies = committed.map((r) => r.metrics?.accuracy).filter((a): a is number => a !== undefined);
  const hit = o.target === null ? undefined : committed.find((r) => (r.metrics?.accuracy ?? 0) >= o.target!);
  const epsilons = rounds.map((r) => r.epsilon).filter((e): e is number => e !== null);
  const metrics = committed.at(-1)?.metrics ?? null;
  const accuracy = metrics?.accuracy ?? null;
  const baselineMse = open?.report.baselineMse ?? null;
  const mse = heldOutMse(metrics, open?.task.loss);
  return {
    sim: o.mode,
    clients: o.clients,
    rounds: o.rounds,
    committed: committed.length,
    abandoned: rounds.length - committed.length,
    metrics,
    accuracy,
    bestAccuracy: accuracies.length ? Math.max(...accuracies) : null,
    roundToTarget: hit?.version ?? null,
    secondsToTarget: hit ? hit.elapsedS : null,
    wallS: ((lastRoundAt ?? Date.now()) - started) / 1000,
    setupS: ((firstRoundAt ?? Date.now()) - started) / 1000,
    bytesUp: rounds.reduce((n, r) => n + r.bytesUp, 0),
    bytesDown: rounds.reduce((n, r) => n + r.bytesDown, 0),
    epsilon: epsilons.at(-1) ?? null,
    baselineMse,
    mseRatio: baselineMse && mse !== null ? mse / baselineMse : null,
    onDevices: committed.findLast((r) => r.onDevices !== null)?.onDevices ?? null,
    ok:
      stopped === 'target' ||
      (stopped === 'completed' && committed.length >= o.rounds && (o.target === null || hit !== undefined)),
    stopped,
    report: paths.report,
    plot: paths.plot,
  };
}

/**
 * With evaluation rounds (`--federated-eval`): the task's evaluation rounds once the last
 * committed version, when it is due, has been scored by the devices (or after
 * EVALUATION_WAIT_MS), so the report ends with the final model's figure.
 */
async function evaluationRounds(
  o: SimOptions,
  coordinator: CoordinatorProcess,
  rounds: readonly ApiRound[],
): Promise<ApiEvaluation[]> {
  if (o.federatedEvery === 0) return [];
  const last = rounds.filter((r) => r.status === 'committed').at(-1)?.newVersion ?? 0;
  const until = Date.now() + EVALUATION_WAIT_MS;
  for (;;) {
    const evaluations = await coordinator.get<ApiEvaluation[]>(`/api/tasks/${SIM_TASK_ID}/evaluations`);
    const done = evaluations.some((e) => e.version === last && e.status !== 'open');
    if (done || last % o.federatedEvery !== 0 || Date.now() > until) return evaluations;
    await sleep(200);
  }
}

/** How long the report waits for the last committed version's held-out evaluation. */
const EVALUATION_WAIT_MS = 60_000;

/**
 * The task's rounds once the last committed one's held-out evaluation, which runs after its
 * commit, has attached its metrics (or after EVALUATION_WAIT_MS).
 */
async function evaluatedRounds(coordinator: CoordinatorProcess): Promise<ApiRound[]> {
  const until = Date.now() + EVALUATION_WAIT_MS;
  for (;;) {
    const rounds = await coordinator.get<ApiRound[]>(`/api/tasks/${SIM_TASK_ID}/rounds?limit=1000`);
    const last = rounds.filter((r) => r.status === 'committed').at(-1);
    if (!last || last.evaluationMs !== undefined || Date.now() > until) return rounds;
    await sleep(200);
  }
}

/**
 * Run one simulation: a fresh coordinator process on 127.0.0.1 with a temporary data
 * directory, a population of Node clients or Chromium tabs, until the task completes its
 * rounds, reaches the target or times out. Writes report.json, plot.html and rounds.csv and returns the
 * report; a failure still writes a report (with `error`), and the summary says `ok: false`.
 */
export async function runSim(
  o: SimOptions,
  options: { command: string; log?: (line: string) => void },
): Promise<SimReport> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  // pnpm runs the script in bench/; paths the user gave or reads are relative to where they typed.
  const cwd = process.env.INIT_CWD ?? process.cwd();
  const outDir = resolve(cwd, o.outDir ?? defaultOutDir(o));
  const paths = {
    report: relative(cwd, join(outDir, 'report.json')),
    plot: relative(cwd, join(outDir, 'plot.html')),
  };
  // A task file and a data file are read and split before anything starts: a bad row stops here.
  const open = o.open ? loadOpenTask(o, cwd) : null;
  const task = open
    ? open.task
    : o.builtin
      ? builtinSimTask(o, JSON.parse(readFileSync(builtinTaskFile(o.builtin), 'utf8')))
      : simTask(o);
  const behaviour = new Behaviour(o);
  let coordinator: CoordinatorProcess | null = null;
  let population: Population | null = null;
  let progress: Progress = { rounds: [], stopped: 'error' };
  let initialMetrics: MetricValues | null = null;
  let baselines: Baseline[] = [];
  let error: string | null = null;
  let populationStats: Record<string, number | string> = {};
  let evaluations: ApiEvaluation[] = [];
  try {
    if (o.mode === 'browser') ensureWebClient(log);
    coordinator = await startCoordinator({ task });
    log(`coordinator at ${coordinator.url}`);
    if (open) {
      // Before any client joins, so every round's version is scored on it.
      const { count } = await uploadHeldOut(coordinator, SIM_TASK_ID, open.exampleTask, open.heldOut);
      log(`held-out: ${count} examples uploaded`);
    }
    const versions = await coordinator.get<{ version: number; metrics: MetricValues | null }[]>(
      `/api/tasks/${SIM_TASK_ID}/versions`,
    );
    initialMetrics = versions.find((v) => v.version === 0)?.metrics ?? null;
    if (o.builtin) {
      // What the task's metrics compare against, on the same held-out split.
      ({ baselines } = await coordinator.get<{ baselines: Baseline[] }>(
        `/api/tasks/${SIM_TASK_ID}/held-out`,
      ));
      for (const b of baselines) log(`baseline ${b.name}: ${formatMetricValues(b.metrics) ?? '-'}`);
    }
    population =
      o.mode === 'node'
        ? await startNodePopulation({
            url: coordinator.url,
            taskId: SIM_TASK_ID,
            count: o.clients,
            concurrency: o.startConcurrency,
            behaviour,
            ...(open ? { examples: open.shards } : {}),
          })
        : await startBrowserPopulation({
            url: coordinator.url,
            taskId: SIM_TASK_ID,
            count: o.clients,
            backend: o.backend,
            concurrency: o.startConcurrency,
            behaviour,
            latency: o.latency !== null,
            log,
          });
    log(`${population.size} ${o.mode} clients started in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    progress = await follow(o, coordinator, population, started, log, open);
    progress = { ...progress, rounds: await evaluatedRounds(coordinator) };
    evaluations = await evaluationRounds(o, coordinator, progress.rounds);
  } catch (err) {
    error = (err as Error).message;
    if (coordinator) error += `\n--- coordinator output (tail) ---\n${coordinator.output().slice(-3000)}`;
    if (coordinator && progress.rounds.length === 0) {
      progress = {
        rounds: await coordinator
          .get<ApiRound[]>(`/api/tasks/${SIM_TASK_ID}/rounds?limit=1000`)
          .catch(() => []),
        stopped: 'error',
      };
    }
  } finally {
    populationStats = population?.stats() ?? {};
    await population?.close().catch(() => undefined);
    await coordinator?.stop().catch(() => undefined);
  }

  const closed = progress.rounds.filter((r) => r.status !== 'open');
  const firstRoundAt = closed.length ? Math.min(...closed.map((r) => r.startedAt)) : null;
  const lastRoundAt = closed.length ? Math.max(...closed.map((r) => r.endedAt ?? r.startedAt)) : null;
  const rounds = reportRounds(progress.rounds);
  const reported = reportEvaluations(evaluations);
  const summary = {
    ...summarise(o, rounds, started, firstRoundAt, lastRoundAt, progress.stopped, paths, open),
    federatedEvaluation: reported.findLast((e) => e.status === 'complete')?.federatedEvaluation ?? null,
  };
  const report: SimReport = {
    generatedAt: new Date(started).toISOString(),
    command: options.command,
    machine: machine(),
    options: o,
    task,
    initialMetrics,
    rounds,
    evaluations: reported,
    population: { ...populationStats, ...behaviour.injected },
    data: open?.report ?? null,
    baselines,
    error,
    summary,
  };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(outDir, 'plot.html'), plotHtml(report));
  writeFileSync(join(outDir, 'rounds.csv'), roundsCsv(report));
  return report;
}
