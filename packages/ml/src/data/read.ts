import { checkExamples } from '../check-example.ts';
import {
  allocate,
  type ExampleSet,
  type ExampleTask,
  inputSize,
  labelDtype,
  labelSize,
} from '../examples.ts';
import { type DataColumns, parseCsvData } from './csv.ts';
import { parseJsonLinesData } from './json-lines.ts';
import { DataFileError, type DataFormat, type DataRow } from './rows.ts';

/** A data file read against a task: its examples in the task's dtypes, and each one's group. */
export interface DataFile {
  readonly examples: ExampleSet;
  /** The group (user or author id) of each example, when the file names one; else null. */
  readonly groups: readonly string[] | null;
}

/** At most this many examples in one file: held-out sets and simulations are this size or less. */
export const MAX_DATA_ROWS = 1_000_000;

/**
 * Check rows against the task's input and target with the same check the SDK's `addExamples`
 * runs (shape, dtype range, NaN or infinity, label range): the first refused row stops the
 * file with INVALID_DATA naming its line, the field and the check's code.
 */
export function examplesFromRows(task: ExampleTask, rows: readonly DataRow[]): DataFile {
  if (rows.length === 0) throw new DataFileError(0, null, 'the file holds no examples');
  if (rows.length > MAX_DATA_ROWS) {
    throw new DataFileError(0, null, `the file holds ${rows.length} examples, at most ${MAX_DATA_ROWS}`);
  }
  const { accepted, refused } = checkExamples(
    task,
    rows.map((r) => ({ x: r.x, y: r.y })),
  );
  const first = refused[0];
  if (first) {
    const field = /^"([^"]+)"/.exec(first.message)?.[1] ?? null;
    throw new DataFileError(rows[first.index]!.line, field && `field "${field}"`, first.message, first.code);
  }
  const xs = inputSize(task.input);
  const ys = labelSize(task);
  const x = allocate(task.input.dtype, accepted.length * xs);
  const y = allocate(labelDtype(task.target), accepted.length * ys);
  accepted.forEach((e, i) => {
    x.set(e.x, i * xs);
    y.set(e.y, i * ys);
  });
  const grouped = rows.some((r) => r.group !== null);
  if (grouped) {
    const missing = rows.find((r) => r.group === null);
    if (missing)
      throw new DataFileError(missing.line, 'field "group"', 'is missing where other lines have one');
  }
  return { examples: { count: accepted.length, x, y }, groups: grouped ? rows.map((r) => r.group!) : null };
}

/**
 * Read a held-out or simulation data file of a task: CSV (with the spec's column names) or
 * JSON lines, every row checked against the task. Errors are INVALID_DATA and name the line.
 */
export function readDataFile(
  task: ExampleTask,
  text: string,
  format: DataFormat,
  columns?: DataColumns,
): DataFile {
  const rows = format === 'csv' ? parseCsvData(text, columns) : parseJsonLinesData(text);
  return examplesFromRows(task, rows);
}
