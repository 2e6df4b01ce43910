import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OperatorRound } from '@pollen/fl-core';
import { BenchError } from '../lib/errors.ts';
import { median, sig, sleep } from '../lib/stats.ts';
import { type CoordinatorProcess, startCoordinator } from '../sim/coordinator.ts';
import { startNodePopulation } from '../sim/node-population.ts';
import type { BenchContext, BenchRow, Suite } from './types.ts';

const TASK = 'big-model';
/** Bytes of one float32 weight. */
const F32 = 4;

/** Weights of an MLP 784-hidden-10 on the MNIST digits (each layer's kernel and bias). */
function weightsOf(hidden: readonly number[]): number {
  const widths = [784, ...hidden, 10];
  let d = 0;
  for (let i = 1; i < widths.length; i++) d += widths[i - 1]! * widths[i]! + widths[i]!;
  return d;
}

interface Size {
  readonly label: string;
  /** Hidden layer widths (a task allows at most 4,096 units a layer: 5M takes two layers). */
  readonly hidden: readonly number[];
  readonly rounds: number;
}

const SIZES: readonly Size[] = [
  { label: '100k', hidden: [128], rounds: 5 },
  { label: '1M', hidden: [1258], rounds: 4 },
  { label: '5M', hidden: [2048, 1650], rounds: 3 },
];
const TINY: readonly Size[] = [{ label: '8k', hidden: [10], rounds: 2 }];

/** A field of /proc/<pid>/status in bytes (VmRSS, VmHWM: resident now, and its peak). */
function procBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    throw new BenchError(
      'UNSUPPORTED',
      "the big-models rows read the coordinator's memory from /proc (Linux)",
    );
  }
  const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!kb) throw new BenchError('UNSUPPORTED', `/proc/${pid}/status has no ${field}`);
  return Number(kb[1]) * 1024;
}

/** Bytes under a directory (the store's files, its write-ahead log included). */
function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? dirBytes(path) : statSync(path).size;
  }
  return total;
}

/** The bytes of uploads the coordinator lets in at once (docs/design.md, "Upload flow control"). */
const UPLOAD_BUDGET_MIB = 64;

interface Run {
  /** Peak resident memory during the rounds, above what the process held before them. */
  readonly peakGrowth: number;
  readonly roundS: number;
  readonly bytesUpPerClient: number;
  readonly bytesDownPerClient: number;
  readonly storePerVersion: number;
}

/**
 * One coordinator process, `clients` load-generating Node clients (no training: each answers a
 * round with a zero update of the model's size at once, so the coordinator's intake, sum and
 * store are what is measured), every client in every round, `size.rounds` rounds.
 */
async function measureRun(size: Size, clients: number, ctx: BenchContext): Promise<Run> {
  const coordinator: CoordinatorProcess = await startCoordinator({
    task: {
      id: TASK,
      name: `Bigger model (${size.label} weights)`,
      model: { kind: 'mlp', hidden: size.hidden },
      rounds: {
        cohortSize: clients,
        minReports: clients,
        minClients: clients,
        overSelection: 1,
        deadlineMs: 600_000,
        maxRounds: size.rounds,
      },
    },
    // The coordinator's default, set here so the figure names what it ran with.
    env: { POLLEN_UPLOAD_BUDGET_MB: String(UPLOAD_BUDGET_MIB) },
  });
  let population: Awaited<ReturnType<typeof startNodePopulation>> | null = null;
  try {
    // Wait for version 0's evaluation to settle before the baseline is read.
    await sleep(ctx.tiny ? 200 : 2000);
    const storeBefore = dirBytes(coordinator.dataDir);
    // Reset the peak to now (clear_refs, value 5: "reset the peak resident set size").
    writeFileSync(`/proc/${coordinator.pid}/clear_refs`, '5');
    const before = procBytes(coordinator.pid, 'VmRSS');
    population = await startNodePopulation({
      url: coordinator.url,
      taskId: TASK,
      count: clients,
      concurrency: 10,
      behaviour: null,
      train: false,
      idPrefix: 'big',
    });
    const deadline = Date.now() + (ctx.tiny ? 60_000 : 900_000);
    for (;;) {
      const { status } = await coordinator.get<{ status: string }>(`/api/tasks/${TASK}`);
      if (status === 'completed') break;
      if (Date.now() > deadline) {
        throw new BenchError('TIMEOUT', `${size.label}: ${size.rounds} rounds did not complete in time`);
      }
      await sleep(250);
    }
    const peakGrowth = procBytes(coordinator.pid, 'VmHWM') - before;
    const rounds = (await coordinator.get<OperatorRound[]>(`/api/tasks/${TASK}/rounds?limit=100`)).filter(
      (r) => r.status === 'committed',
    );
    if (rounds.length !== size.rounds) {
      throw new BenchError(
        'COORDINATOR_FAILED',
        `${size.label}: ${rounds.length} of ${size.rounds} rounds committed`,
      );
    }
    const storeAfter = dirBytes(coordinator.dataDir);
    return {
      peakGrowth,
      roundS: median(rounds.map((r) => ((r.endedAt ?? r.startedAt) - r.startedAt) / 1000)),
      bytesUpPerClient: median(rounds.map((r) => r.bytesUp / Math.max(1, r.reported))),
      bytesDownPerClient: median(rounds.map((r) => r.bytesDown / Math.max(1, r.selected))),
      storePerVersion: (storeAfter - storeBefore) / size.rounds,
    };
  } finally {
    await population?.close();
    await coordinator.stop();
  }
}

/**
 * Bigger models (issue 16): MLPs of about 100k, 1M and 5M weights with 50 clients per round.
 * The coordinator's memory must stay O(d): its peak growth during the rounds is compared with
 * holding every client's upload at once (clients x d x 4 bytes), the O(clients x d) it must not
 * be; upload flow control bounds what arrives at once by the upload budget. The store's growth per version is compared with one float32 copy of the weights.
 */
export const bigModelsSuite: Suite = {
  id: 'big-models',
  title: 'Bigger models: memory, round time, bytes and store growth',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const clients = ctx.tiny ? 3 : 50;
    const rows: BenchRow[] = [];
    for (const size of ctx.tiny ? TINY : SIZES) {
      const d = weightsOf(size.hidden);
      const runs: Run[] = [];
      try {
        for (let r = 0; r < ctx.runs; r++) {
          ctx.log(
            `big-models: d = ${d}, run ${r + 1}/${ctx.runs} (${clients} clients, ${size.rounds} rounds)`,
          );
          runs.push(await measureRun(size, clients, ctx));
        }
      } catch (err) {
        // What breaks at this size is the finding: the other sizes still run.
        if (ctx.tiny) throw err;
        ctx.log(`big-models: d = ${d} failed: ${(err as Error).message}`);
        rows.push({
          suite: 'big-models',
          name: `${clients} clients a round, d = ${d.toLocaleString('en')}`,
          value: null,
          unit: 'MiB',
          baseline: null,
          ratio: null,
          ratioMeaning: '',
          runs: runs.length,
          note: `failed: ${(err as Error).message.slice(0, 300)}`,
        });
        continue;
      }
      const mib = (bytes: number): number => sig(bytes / 2 ** 20);
      const growth = median(runs.map((r) => r.peakGrowth));
      const allUploads = clients * d * F32;
      const perVersion = median(runs.map((r) => r.storePerVersion));
      const extra = {
        d,
        roundS: sig(median(runs.map((r) => r.roundS))),
        bytesUpPerClient: Math.round(median(runs.map((r) => r.bytesUpPerClient))),
        bytesDownPerClient: Math.round(median(runs.map((r) => r.bytesDownPerClient))),
        modelCopiesOfGrowth: sig(growth / (d * F32)),
        uploadBudgetMiB: UPLOAD_BUDGET_MIB,
      };
      rows.push(
        {
          suite: 'big-models',
          name: `coordinator peak memory growth over ${size.rounds} rounds, d = ${d.toLocaleString('en')}, ${clients} clients a round`,
          value: mib(growth),
          unit: 'MiB',
          baseline: {
            name: `every upload held at once (${clients} x d x 4 B)`,
            value: mib(allUploads),
            unit: 'MiB',
          },
          ratio: sig(growth / allUploads),
          ratioMeaning: 'x holding every upload (O(d) keeps it well below 1)',
          runs: ctx.runs,
          extra,
        },
        {
          suite: 'big-models',
          name: `store growth per committed version, d = ${d.toLocaleString('en')}`,
          value: mib(perVersion),
          unit: 'MiB',
          baseline: { name: 'one float32 copy of the weights (d x 4 B)', value: mib(d * F32), unit: 'MiB' },
          ratio: sig(perVersion / (d * F32)),
          ratioMeaning: 'x one float32 copy',
          runs: ctx.runs,
          extra: { d, roundS: extra.roundS },
        },
      );
    }
    return rows;
  },
};
