import { DataFileError, type DataRow } from './rows.ts';

/** A value of `x` or `y`: a number, or arrays of numbers nested as the shape is, flattened row-major. */
function flatten(line: number, name: string, value: unknown, out: number[]): void {
  if (typeof value === 'number') {
    out.push(value);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => {
      flatten(line, `${name}[${i}]`, v, out);
    });
  } else {
    const got = value === null ? 'null' : typeof value;
    throw new DataFileError(line, `field "${name}"`, `expected a number or an array of numbers, got ${got}`);
  }
}

/**
 * Read a JSON-lines data file: one example per line, `{"x": [...], "y": ...}` with an optional
 * `"group"` (a string or number naming who the example came from). Blank lines are skipped.
 * JSON has no NaN or infinity, so every value here is finite.
 */
export function parseJsonLinesData(text: string): DataRow[] {
  const rows: DataRow[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const source = lines[i]!.trim();
    if (source === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(source);
    } catch (err) {
      throw new DataFileError(line, null, `not JSON (${(err as Error).message})`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new DataFileError(line, null, 'expected an object {"x": ..., "y": ...}');
    }
    const { x, y, group } = value as { x?: unknown; y?: unknown; group?: unknown };
    for (const [name, v] of [
      ['x', x],
      ['y', y],
    ] as const) {
      if (v === undefined) throw new DataFileError(line, `field "${name}"`, 'is missing');
    }
    if (group !== undefined && typeof group !== 'string' && typeof group !== 'number') {
      throw new DataFileError(line, 'field "group"', `expected a string or a number, got ${typeof group}`);
    }
    const xs: number[] = [];
    const ys: number[] = [];
    flatten(line, 'x', x, xs);
    flatten(line, 'y', y, ys);
    rows.push({ line, x: xs, y: ys, group: group === undefined ? null : String(group) });
  }
  return rows;
}
