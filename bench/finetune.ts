import { fileURLToPath } from 'node:url';
import {
  type FinetuneFederation,
  type FinetuneResult,
  type FinetuneSetting,
  simulateFinetune,
} from './finetune-sim.ts';
import { answerJob, runJobs } from './lib/child-jobs.ts';
import { numberFlag, stringFlags } from './lib/flags.ts';
import { describeMachine } from './lib/machine.ts';
import { runAsScript, writeResults } from './lib/script.ts';

// pnpm bench:finetune: federated fine-tuning of the pretrained next-char transformer
// (`pnpm pretrain next-char`) on the Brown genres it never saw, one row per trainable part:
// held-out perplexity and the bytes a client moves per round. Prints a Markdown table and
// writes every round's metrics as JSON.

const USAGE = `tsx bench/finetune.ts [options]
  --clients N      documents (clients) per round, the same for every row (default 8)
  --rounds N       rounds of every row (default 4)
  --examples N     each client's first N training windows, 0 for its whole document (default 512)
  --pool N         documents in the federation, drawn from the task's 296 (default 40)
  --held-out-fraction F   each client's last F of its document held out; the run is scored on
                   the pool's held-out text (default 0.2); 0: on the task's held-out documents
  --held-out N     held-out windows scored after each round, evenly spaced (default 2000)
  --partition P    natural (one document per client, the task's) or iid (default natural)
  --lr L           local Adam learning rate of full fine-tuning (default 0.0001)
  --head-lr L      local Adam learning rate of head-only training (default 0.001)
  --lora-lr L      local Adam learning rate of the LoRA rows (default 0.001)
  --seed S         which clients train in which round (default 1)
  --jobs J         rows in parallel processes (default 2)
  --only a,b       run only these labels
  --out FILE       JSON results (default bench/results/finetune.json)`;

/** Every Dense projection of the transformer's three blocks, the layers LoRA adapts. */
export const PROJECTIONS: readonly string[] = [0, 1, 2].flatMap((b) =>
  ['q', 'k', 'v', 'o', 'ffn1', 'ffn2'].map((n) => `block${b}_${n}`),
);

/** The rows: the base alone, every weight, the softmax head only, LoRA at two ranks. */
export function settings(lr: number, headLr: number, loraLr: number): FinetuneSetting[] {
  const lora = (rank: number): FinetuneSetting => ({
    label: `LoRA rank ${rank}`,
    trainable: { kind: 'lora', rank, alpha: 2 * rank, layers: [...PROJECTIONS] },
    learningRate: loraLr,
  });
  return [
    { label: 'pretrained base', trainable: null },
    { label: 'full fine-tuning', trainable: { kind: 'all' }, learningRate: lr },
    { label: 'head only', trainable: { kind: 'layers', names: ['next'] }, learningRate: headLr },
    lora(2),
    lora(8),
  ];
}

interface Options {
  readonly federation: FinetuneFederation;
  readonly settings: readonly FinetuneSetting[];
  readonly jobs: number;
  readonly out: string;
}

function parseOptions(argv: readonly string[]): Options {
  const flags = [
    'clients',
    'rounds',
    'examples',
    'held-out',
    'held-out-fraction',
    'pool',
    'partition',
    'lr',
    'head-lr',
    'lora-lr',
    'seed',
    'jobs',
    'only',
    'out',
  ];
  const values = stringFlags(argv, flags, USAGE);
  const partition = values.partition ?? 'natural';
  if (partition !== 'natural' && partition !== 'iid') {
    throw new Error(`"--partition" expected natural or iid, got ${partition}\n${USAGE}`);
  }
  const fraction = numberFlag(values, 'held-out-fraction', 0.2);
  if (fraction >= 1)
    throw new Error(`"--held-out-fraction" expected a number in [0, 1), got ${fraction}\n${USAGE}`);
  const federation: FinetuneFederation = {
    clients: Math.max(1, numberFlag(values, 'clients', 8)),
    rounds: Math.max(1, numberFlag(values, 'rounds', 4)),
    maxExamples: Math.max(0, numberFlag(values, 'examples', 512)),
    heldOut: Math.max(1, numberFlag(values, 'held-out', 2000)),
    pool: Math.max(0, numberFlag(values, 'pool', 40)),
    heldOutFraction: fraction,
    partition,
    seed: numberFlag(values, 'seed', 1),
    training: { epochs: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam' },
  };
  const all = settings(
    numberFlag(values, 'lr', 0.0001),
    numberFlag(values, 'head-lr', 0.001),
    numberFlag(values, 'lora-lr', 0.001),
  );
  const only = values.only ? values.only.split(',') : null;
  const unknown = only?.filter((l) => !all.some((s) => s.label === l)) ?? [];
  if (unknown.length > 0) {
    throw new Error(`"--only": no row ${unknown.join(', ')} (rows: ${all.map((s) => s.label).join(', ')})`);
  }
  return {
    federation,
    settings: all.filter((s) => !only || only.includes(s.label)),
    jobs: Math.max(1, numberFlag(values, 'jobs', 2)),
    out: values.out ?? fileURLToPath(new URL('./results/finetune.json', import.meta.url)),
  };
}

interface Job {
  readonly federation: FinetuneFederation;
  readonly setting: FinetuneSetting;
}

function runRow(job: Job): Promise<FinetuneResult> {
  return simulateFinetune(job.federation, job.setting, (label, round, metrics) =>
    process.stderr.write(`  ${label}: round ${round}, perplexity ${metrics.perplexity?.toFixed(3)}\n`),
  );
}

const bytes = (n: number): string => Math.round(n).toLocaleString('en-US');

/** The table of docs/tasks.md: perplexity after the last round and a client's bytes per round. */
export function table(fed: FinetuneFederation, results: readonly FinetuneResult[]): string {
  const full = results.find((r) => r.trainable?.kind === 'all');
  const lines = [
    `| setting (${fed.clients} clients a round, ${fed.rounds} rounds) | trained values | held-out perplexity | top-3 accuracy | upload bytes per client per round | download bytes per client per round | vs full fine-tuning (up + down) | frozen base, once per device |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    const last = r.metrics.at(-1)!;
    const moved = r.uploadBytes + r.downloadBytes;
    const ratio =
      full && moved > 0 ? `${((full.uploadBytes + full.downloadBytes) / moved).toFixed(1)}x fewer` : '-';
    lines.push(
      `| ${r.label} | ${r.trainable ? bytes(r.trainableValues) : '-'} | ${last.perplexity!.toFixed(3)} | ${last['topKAccuracy@3']!.toFixed(3)} | ${r.trainable ? bytes(r.uploadBytes) : '-'} | ${r.trainable ? bytes(r.downloadBytes) : '-'} | ${ratio} | ${r.baseBytes > 0 ? bytes(r.baseBytes) : '-'} |`,
    );
  }
  return lines.join('\n');
}

export async function main(argv: readonly string[]): Promise<string> {
  const options = parseOptions(argv);
  const started = Date.now();
  const results = await runJobs({
    script: fileURLToPath(import.meta.url),
    jobs: options.settings.map((setting): Job => ({ federation: options.federation, setting })),
    parallel: options.jobs,
    run: runRow,
    label: (job) => `row "${job.setting.label}"`,
  });
  const markdown = table(options.federation, results);
  writeResults(options.out, {
    command: `pnpm bench:finetune ${argv.join(' ')}`.trim(),
    measuredAt: new Date(started).toISOString(),
    wallSeconds: Math.round((Date.now() - started) / 1000),
    machine: describeMachine(),
    federation: options.federation,
    results,
    table: markdown,
  });
  return markdown;
}

runAsScript(import.meta.url, main, () => answerJob(runRow));
