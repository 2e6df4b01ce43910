import { PollenError } from '@pollen/fl-core';

/**
 * One example as a data file holds it, before it is checked against a task: its features and
 * target flattened row-major, the group it belongs to (a user or author id, for natural
 * partitioning) and the 1-based line of the file it came from, so every later error names it.
 */
export interface DataRow {
  readonly line: number;
  readonly x: readonly number[];
  readonly y: readonly number[];
  readonly group: string | null;
}

/**
 * A data file that cannot be read: INVALID_DATA, with the line (1-based; 0 for the file as a
 * whole) and the field (a column name, or `x[3]`) it is about. `reason` is the stable code of
 * an example check when one refused the row (SHAPE_MISMATCH, NON_FINITE, BAD_LABEL, ...).
 */
export class DataFileError extends PollenError {
  readonly line: number;
  readonly field: string | null;
  readonly reason: string | null;

  constructor(line: number, field: string | null, message: string, reason: string | null = null) {
    const where = line > 0 ? `line ${line}${field ? `, ${field}` : ''}` : (field ?? 'data file');
    super('INVALID_DATA', `${where}: ${message}`);
    this.line = line;
    this.field = field;
    this.reason = reason;
  }
}

/** The formats a data file may have, told apart by its name. */
export const DATA_FORMATS = ['csv', 'jsonl'] as const;
export type DataFormat = (typeof DATA_FORMATS)[number];

/** The format of a file by its extension: `.csv`, or `.jsonl` / `.ndjson` for JSON lines. */
export function dataFormatOf(name: string): DataFormat {
  const lower = name.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  throw new DataFileError(0, null, `"${name}" is neither .csv nor .jsonl (.ndjson)`);
}
