import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TASKS_DIR } from '../package-dir.ts';
import { PRETRAIN_DEFAULTS, pretrainNextChar } from './pretrain.ts';

/**
 * `pnpm pretrain next-char [--seed N] [--steps N] [--out FILE]`: pretrain the next-char
 * transformer on Brown's pretraining genres and write the built-in task next-char-finetune
 * (tasks/next-char-finetune.json) with its weights as the initial weights.
 */
const USAGE = 'usage: pnpm pretrain next-char [--seed N] [--steps N] [--out FILE]';

function int(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`"--${name}" expected a non-negative integer, got ${value}\n${USAGE}\n`);
    process.exit(2);
  }
  return n;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { seed: { type: 'string' }, steps: { type: 'string' }, out: { type: 'string' } },
});
if (positionals.length !== 1 || positionals[0] !== 'next-char') {
  process.stderr.write(`pretraining is for the task next-char only\n${USAGE}\n`);
  process.exit(2);
}
const out = values.out ?? join(TASKS_DIR, 'next-char-finetune.json');
const result = await pretrainNextChar({
  ...PRETRAIN_DEFAULTS,
  seed: int('seed', values.seed, PRETRAIN_DEFAULTS.seed),
  steps: int('steps', values.steps, PRETRAIN_DEFAULTS.steps),
  log: (line) => process.stdout.write(`${line}\n`),
});
const fmt = (m: Record<string, number>): string =>
  `perplexity ${m.perplexity!.toFixed(2)}, top-3 ${m['topKAccuracy@3']!.toFixed(3)}, accuracy ${m.accuracy!.toFixed(3)}`;
process.stdout.write(
  [
    `${result.params} weights, ${result.seconds.toFixed(0)} s of training; training loss at the end ${result.trainLoss.toFixed(3)}`,
    "on the fine-tuning part's held-out text:",
    `  pretrained: ${fmt(result.heldOut)}`,
    ...result.baselines.map((b) => `  ${b.name}: ${fmt(b.metrics)}`),
    '',
  ].join('\n'),
);
writeFileSync(out, `${JSON.stringify(result.task, null, 2)}\n`);
process.stdout.write(`wrote ${out}\n`);
