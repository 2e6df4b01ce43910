import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TaskSpec } from '@pollen/fl-core';
import { type ExampleSet, type ExampleTask, labelSize, pickExamples } from '@pollen/ml';
import { type DataColumns, dataFormatOf, readDataFile } from '@pollen/ml/data';
import { BenchError } from '../lib/errors.ts';
import { median } from '../lib/stats.ts';
import { checkPartitionFits, partitionExamples, splitHeldOut, streamRng } from './data-partition.ts';
import type { SimOptions } from './options.ts';
import { openSimTask } from './task.ts';

/** What the report says of the data a `--task --data` simulation ran on. */
export interface OpenTaskReport {
  readonly taskFile: string;
  readonly dataFile: string;
  readonly rows: number;
  readonly trainExamples: number;
  readonly heldOutExamples: number;
  /** Training examples per client: fewest, median, most. */
  readonly perClient: { readonly min: number; readonly median: number; readonly max: number };
  /**
   * Regression targets: the held-out MSE of always predicting the training split's mean (per
   * output value), the figure a trained model's MSE is compared with; null for other targets.
   */
  readonly baselineMse: number | null;
}

/** A task file and a data file, read and split for one simulation. */
export interface OpenTask {
  /** The task JSON the coordinator is started with. */
  readonly task: Record<string, unknown>;
  readonly exampleTask: ExampleTask & Pick<TaskSpec, 'loss'>;
  readonly heldOut: ExampleSet;
  /** One example set per client, in client order. */
  readonly shards: readonly ExampleSet[];
  readonly report: OpenTaskReport;
}

function refuse(message: string): never {
  throw new BenchError('INVALID_OPTION', message);
}

function readJsonObject(path: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    return refuse(`task file ${path}: ${(err as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    refuse(`task file ${path}: expected a JSON object`);
  return json as Record<string, unknown>;
}

/** Mean squared error of predicting, for each output value, its mean over `train`. */
export function meanBaselineMse(task: ExampleTask, train: ExampleSet, heldOut: ExampleSet): number {
  const k = labelSize(task);
  const mean = new Float64Array(k);
  for (let i = 0; i < train.count * k; i++) mean[i % k]! += train.y[i]! / train.count;
  let sum = 0;
  for (let i = 0; i < heldOut.count * k; i++) sum += (heldOut.y[i]! - mean[i % k]!) ** 2;
  return sum / (heldOut.count * k);
}

/**
 * Read the task file and the data file (`--task`, `--data`, relative to `cwd`), check every
 * row against the task's input and target, hold out a seeded share of the rows for the
 * coordinator to evaluate, and split the rest across the clients as `--partition` says.
 */
export function loadOpenTask(o: SimOptions, cwd: string): OpenTask {
  const open = o.open;
  if (!open) throw new BenchError('INVALID_OPTION', 'loadOpenTask needs --task and --data');
  const taskPath = resolve(cwd, open.taskFile);
  const dataPath = resolve(cwd, open.dataFile);
  const file = readJsonObject(taskPath);
  if (typeof file.input !== 'object' || typeof file.target !== 'object') {
    refuse(
      `task file ${open.taskFile}: --data needs a task that says its "input" and "target" (docs/tasks.md)`,
    );
  }
  // The task file's CSV columns, each field --columns or --partition column:NAME gives replaced.
  const columns: DataColumns = { ...((file.columns as DataColumns | undefined) ?? {}), ...open.columns };
  const task = openSimTask(o, file, { ...columns });
  const exampleTask = task as unknown as OpenTask['exampleTask'];
  checkPartitionFits(o.partition, exampleTask);
  let text: string;
  try {
    text = readFileSync(dataPath, 'utf8');
  } catch (err) {
    return refuse(`data file ${open.dataFile}: ${(err as Error).message}`);
  }
  const format = dataFormatOf(open.dataFile);
  if (format === 'jsonl' && o.partition.kind === 'column' && o.partition.column !== 'group') {
    refuse(
      `"--partition column:${o.partition.column}": a JSON lines row names its group in "group"; use column:group`,
    );
  }
  let data: ReturnType<typeof readDataFile>;
  try {
    data = readDataFile(exampleTask, text, format, columns);
  } catch (err) {
    const message = (err as Error).message;
    // A text column the options did not name: most likely who the row came from.
    const text = /column "([^"]+)": expected a number/.exec(message)?.[1];
    const hint =
      text && text !== columns.group
        ? `; if "${text}" says who a row came from, name it: --columns '{"group": "${text}"}' or --partition column:${text}`
        : '';
    return refuse(`data file ${open.dataFile}: ${message}${hint}`);
  }
  const { examples, groups } = data;
  const split = splitHeldOut(examples.count, open.heldOutFraction, streamRng(o.seed, 'held-out'));
  const heldOut = pickExamples(exampleTask, examples, split.heldOut);
  const train = pickExamples(exampleTask, examples, split.train);
  const trainGroups = groups ? split.train.map((i) => groups[i]!) : null;
  const shards = partitionExamples(
    exampleTask,
    train,
    trainGroups,
    o.partition,
    o.clients,
    streamRng(o.seed, 'partition'),
  );
  const counts = shards.map((s) => s.count);
  return {
    task,
    exampleTask,
    heldOut,
    shards,
    report: {
      taskFile: open.taskFile,
      dataFile: open.dataFile,
      rows: examples.count,
      trainExamples: train.count,
      heldOutExamples: heldOut.count,
      perClient: { min: Math.min(...counts), median: median(counts), max: Math.max(...counts) },
      baselineMse:
        exampleTask.target.kind === 'regression' ? meanBaselineMse(exampleTask, train, heldOut) : null,
    },
  };
}
