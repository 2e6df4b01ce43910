import { CsvError, parse } from 'csv-parse/sync';
import { DataFileError, type DataRow } from './rows.ts';

/**
 * Which columns of a CSV file make an example, as a task spec names them. The first row of
 * the file is its header: column names, each once.
 */
export interface DataColumns {
  /** Feature columns, in the order of the model's flat input; default: every column not named below. */
  readonly features?: readonly string[];
  /** Target column(s): one for a class id or a scalar, several for a vector target (default `y`). */
  readonly target?: string | readonly string[];
  /** The column naming who a row came from (a user or author id), for natural partitioning. */
  readonly group?: string;
}

interface Located {
  readonly record: string[];
  readonly info: { readonly lines: number };
}

function cellNumber(line: number, column: string, cell: string): number {
  // Number('') is 0 and Number(' 1 ') is 1: an empty cell is missing data, not a zero.
  const value = cell.trim() === '' ? Number.NaN : Number(cell);
  if (Number.isNaN(value) && !/^\s*NaN\s*$/.test(cell)) {
    throw new DataFileError(
      line,
      `column "${column}"`,
      `expected a number, got ${JSON.stringify(cell.slice(0, 40))}`,
    );
  }
  return value;
}

/**
 * Read a CSV data file (RFC 4180, parsed by csv-parse): a header row of column names, then one
 * example per row. Cells are numbers (NaN and infinities pass here and are refused by the
 * example check with the row's line); the group column may hold any text.
 */
export function parseCsvData(text: string, columns: DataColumns = {}): DataRow[] {
  let records: Located[];
  try {
    records = parse(text, {
      bom: true,
      info: true,
      skip_empty_lines: true,
      trim: true,
      // Files edited on several systems mix line endings.
      record_delimiter: ['\r\n', '\n'],
    }) as unknown as Located[];
  } catch (err) {
    if (err instanceof CsvError) {
      const line = (err as CsvError & { lines?: number }).lines ?? 0;
      // csv-parse's message names the line too: keep what it says, once.
      const what = err.message.replace(/^Invalid Record Length: /, '').replace(/,? (on|at) line \d+$/, '');
      throw new DataFileError(line, null, what);
    }
    throw err;
  }
  const header = records[0]?.record;
  if (!header) throw new DataFileError(0, null, 'the CSV file has no header row');
  const index = new Map<string, number>();
  header.forEach((name, i) => {
    if (index.has(name)) throw new DataFileError(1, `column "${name}"`, 'appears twice in the header');
    index.set(name, i);
  });
  const find = (what: string, name: string): number => {
    const i = index.get(name);
    if (i === undefined) {
      throw new DataFileError(
        1,
        `column "${name}"`,
        `the ${what} column is not in the header (${header.join(', ')})`,
      );
    }
    return i;
  };
  const targetNames = typeof columns.target === 'string' ? [columns.target] : [...(columns.target ?? ['y'])];
  const target = targetNames.map((name) => find('target', name));
  const group = columns.group === undefined ? null : find('group', columns.group);
  const taken = new Set([...target, ...(group === null ? [] : [group])]);
  const features = columns.features
    ? columns.features.map((name) => find('feature', name))
    : header.map((_, i) => i).filter((i) => !taken.has(i));
  if (features.length === 0) throw new DataFileError(1, null, 'no feature columns');
  return records.slice(1).map(({ record, info }) => ({
    line: info.lines,
    x: features.map((i) => cellNumber(info.lines, header[i]!, record[i]!)),
    y: target.map((i) => cellNumber(info.lines, header[i]!, record[i]!)),
    group: group === null ? null : record[group]!,
  }));
}
