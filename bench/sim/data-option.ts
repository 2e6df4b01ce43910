import type { PartitionSpec } from '@pollen/fl-core';
import type { DataColumns } from '@pollen/ml/data';
import { BenchError } from '../lib/errors.ts';

/** How the simulation splits its examples: fl-core's partitions, or naturally by a data column. */
export type SimPartition = PartitionSpec | { readonly kind: 'column'; readonly column: string };

/** `--task FILE --data FILE`: any task on any data file, with Node clients. */
export interface OpenTaskOptions {
  /** The task file and the data file, as given (relative to where the command was typed). */
  readonly taskFile: string;
  readonly dataFile: string;
  /** Share of the data file's rows held out (seeded) and evaluated by the coordinator. */
  readonly heldOutFraction: number;
  /** Which CSV columns are features, target and group (docs/tasks.md#data-files-held-out-and-simulation-data). */
  readonly columns: DataColumns;
}

export const DEFAULT_HELD_OUT_FRACTION = 0.2;

export const DATA_USAGE = `  --task FILE --data FILE   any task file on any data file (.csv, .jsonl), Node clients; the
                         coordinator evaluates a held-out split of the data file every version
  --held-out-fraction F  share of the rows held out, seeded (default ${DEFAULT_HELD_OUT_FRACTION})
  --columns JSON         CSV columns: {"features": [...], "target": "y", "group": "user"} (docs/tasks.md)
  --partition column:NAME   with --data: one client per group of the column NAME (a user id), groups
                         dealt round-robin when there are more groups than clients`;

const COLUMN_KEYS = new Set(['features', 'target', 'group']);

function invalid(message: string): never {
  throw new BenchError('INVALID_OPTION', message);
}

function columnName(field: string, value: unknown): string {
  if (typeof value !== 'string' || value === '')
    invalid(`"--columns" ${field} expected a column name, got ${JSON.stringify(value)}`);
  return value;
}

/** `--columns`: the docs' `columns` object, every field checked. */
export function parseColumns(text: string): DataColumns {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return invalid(`"--columns" is not JSON: ${(err as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return invalid(`"--columns" expected an object such as {"target": "y", "group": "user"}, got ${text}`);
  }
  const obj = json as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!COLUMN_KEYS.has(key)) invalid(`"--columns" has no field "${key}" (features, target, group)`);
  }
  const out: { features?: string[]; target?: string | string[]; group?: string } = {};
  if (obj.features !== undefined) {
    if (!Array.isArray(obj.features) || obj.features.length === 0)
      invalid('"--columns" features expected a non-empty list of column names');
    out.features = obj.features.map((f, i) => columnName(`features[${i}]`, f));
  }
  if (obj.target !== undefined) {
    out.target = Array.isArray(obj.target)
      ? obj.target.map((t, i) => columnName(`target[${i}]`, t))
      : columnName('target', obj.target);
  }
  if (obj.group !== undefined) out.group = columnName('group', obj.group);
  return out;
}

/**
 * The data-file options of `pnpm sim`, checked against the rest: --task and --data go
 * together, with Node clients only, and a `column:NAME` partition needs --data (the built-in
 * digits have no group column); it names the CSV group column.
 */
export function parseOpenTask(
  get: (name: string) => string | undefined,
  partition: SimPartition,
  mode: 'node' | 'browser',
  num: (flag: string, text: string | undefined, min: number, max: number) => number,
): OpenTaskOptions | null {
  const taskFile = get('task');
  const dataFile = get('data');
  if (taskFile === undefined && dataFile === undefined) {
    for (const flag of ['held-out-fraction', 'columns']) {
      if (get(flag) !== undefined) invalid(`"--${flag}" applies to --task FILE --data FILE`);
    }
    if (partition.kind === 'column') invalid('"--partition column:NAME" needs --task FILE --data FILE');
    return null;
  }
  if (taskFile === undefined || dataFile === undefined) invalid('"--task" and "--data" go together');
  if (mode === 'browser')
    invalid('"--task" and "--data" run Node clients (--node); tabs train on the built-in digits');
  if (get('shards') !== undefined)
    invalid('"--shards" applies to the built-in digits: with --data each client is one shard');
  const columns = get('columns') === undefined ? {} : parseColumns(get('columns')!);
  if (partition.kind === 'column' && columns.group !== undefined && columns.group !== partition.column) {
    invalid(`"--partition column:${partition.column}" and "--columns" group "${columns.group}" disagree`);
  }
  return {
    taskFile,
    dataFile,
    heldOutFraction: num(
      'held-out-fraction',
      get('held-out-fraction') ?? String(DEFAULT_HELD_OUT_FRACTION),
      0.01,
      0.9,
    ),
    columns: partition.kind === 'column' ? { ...columns, group: partition.column } : columns,
  };
}
