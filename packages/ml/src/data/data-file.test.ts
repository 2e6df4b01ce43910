import { describe, expect, it } from 'vitest';
import type { ExampleTask } from '../examples.ts';
import { parseCsvData } from './csv.ts';
import { parseJsonLinesData } from './json-lines.ts';
import { readDataFile } from './read.ts';
import { DataFileError, dataFormatOf } from './rows.ts';

function refusal(read: () => unknown): string {
  try {
    read();
    return 'ok';
  } catch (err) {
    if (!(err instanceof DataFileError)) throw err;
    return `${err.code} ${err.message}`;
  }
}

describe('CSV data files', () => {
  it('reads the named feature, target and group columns, in the order the spec gives', () => {
    const text = '\uFEFFuser,b,a,price\r\nu1,1,2,10.5\n\nu2,3,4,-1e3\n"u,3",5,6,7\n';
    const rows = parseCsvData(text, { features: ['a', 'b'], target: 'price', group: 'user' });
    expect(rows).toEqual([
      { line: 2, x: [2, 1], y: [10.5], group: 'u1' },
      { line: 4, x: [4, 3], y: [-1000], group: 'u2' },
      { line: 5, x: [6, 5], y: [7], group: 'u,3' },
    ]);
    // By default every column but the target (`y`) and the group is a feature, in header order.
    expect(parseCsvData('x0,y,x1\n1,2,3\n')).toEqual([{ line: 2, x: [1, 3], y: [2], group: null }]);
    expect(parseCsvData('a,t0,t1\n1,2,3\n', { target: ['t0', 't1'] })[0]!.y).toEqual([2, 3]);
  });

  it('names the line and the column of every error', () => {
    expect(refusal(() => parseCsvData('a,y\n1,2\n3,x\n'))).toBe(
      'INVALID_DATA line 3, column "y": expected a number, got "x"',
    );
    expect(refusal(() => parseCsvData('a,y\n1,\n'))).toBe(
      'INVALID_DATA line 2, column "y": expected a number, got ""',
    );
    expect(refusal(() => parseCsvData('a,y\n1,2\n3\n'))).toBe('INVALID_DATA line 3: expect 2, got 1');
    expect(refusal(() => parseCsvData('a,y\n1,"2\n'))).toMatch(/^INVALID_DATA line 2: Quote Not Closed/);
    expect(refusal(() => parseCsvData('a,b\n1,2\n'))).toBe(
      'INVALID_DATA line 1, column "y": the target column is not in the header (a, b)',
    );
    expect(refusal(() => parseCsvData('a,y\n1,2\n', { features: ['a', 'c'] }))).toMatch(
      /^INVALID_DATA line 1, column "c": the feature column is not in the header/,
    );
    expect(refusal(() => parseCsvData('a,a,y\n1,2,3\n'))).toBe(
      'INVALID_DATA line 1, column "a": appears twice in the header',
    );
    expect(refusal(() => parseCsvData('y\n1\n'))).toBe('INVALID_DATA line 1: no feature columns');
    expect(refusal(() => parseCsvData(''))).toBe('INVALID_DATA data file: the CSV file has no header row');
    // NaN and infinities are numbers here: the example check refuses them with the line.
    expect(parseCsvData('a,y\nNaN,Infinity\n')[0]!.x[0]).toBeNaN();
  });
});

describe('JSON-lines data files', () => {
  it('reads {x, y, group} per line, nested arrays flattened row-major, blank lines skipped', () => {
    const text =
      '{"x": [[1, 2], [3, 4]], "y": 1, "group": "alice"}\n\n{"x": [5, 6, 7, 8], "y": [0.5], "group": 7}\r\n';
    expect(parseJsonLinesData(text)).toEqual([
      { line: 1, x: [1, 2, 3, 4], y: [1], group: 'alice' },
      { line: 3, x: [5, 6, 7, 8], y: [0.5], group: '7' },
    ]);
  });

  it('names the line and the field of every error', () => {
    expect(refusal(() => parseJsonLinesData('{"x": [1], "y": 1}\n{"x": [1, "2"], "y": 1}'))).toBe(
      'INVALID_DATA line 2, field "x[1]": expected a number or an array of numbers, got string',
    );
    expect(refusal(() => parseJsonLinesData('{"x": [1]}'))).toBe(
      'INVALID_DATA line 1, field "y": is missing',
    );
    expect(refusal(() => parseJsonLinesData('\n[1, 2]'))).toBe(
      'INVALID_DATA line 2: expected an object {"x": ..., "y": ...}',
    );
    expect(refusal(() => parseJsonLinesData('{"x": [1], "y": 1,}'))).toMatch(
      /^INVALID_DATA line 1: not JSON/,
    );
    expect(refusal(() => parseJsonLinesData('{"x": [1], "y": null}'))).toBe(
      'INVALID_DATA line 1, field "y": expected a number or an array of numbers, got null',
    );
    expect(refusal(() => parseJsonLinesData('{"x": [1], "y": 1, "group": true}'))).toBe(
      'INVALID_DATA line 1, field "group": expected a string or a number, got boolean',
    );
  });

  it('tells the format by the file name', () => {
    expect(dataFormatOf('held-out.CSV')).toBe('csv');
    expect(dataFormatOf('a/b.jsonl')).toBe('jsonl');
    expect(dataFormatOf('b.ndjson')).toBe('jsonl');
    expect(refusal(() => dataFormatOf('data.txt'))).toBe(
      'INVALID_DATA data file: "data.txt" is neither .csv nor .jsonl (.ndjson)',
    );
  });
});

describe('a data file read against a task', () => {
  const regression: ExampleTask = {
    input: { shape: [3], dtype: 'float32' },
    target: { kind: 'regression', shape: [1] },
  };
  const classes: ExampleTask = {
    input: { shape: [2], dtype: 'uint8' },
    target: { kind: 'class', numClasses: 3 },
  };

  it('gives the examples in the task dtypes, and their groups', () => {
    const csv = 'user,a,b,c,y\nu1,0.5,1,2,3.25\nu2,4,5,6,-7\n';
    const file = readDataFile(regression, csv, 'csv', { group: 'user' });
    expect(file.examples.count).toBe(2);
    expect(file.examples.x).toEqual(Float32Array.from([0.5, 1, 2, 4, 5, 6]));
    expect(file.examples.y).toEqual(Float32Array.from([3.25, -7]));
    expect(file.groups).toEqual(['u1', 'u2']);
    const lines = '{"x": [0, 255], "y": 2}\n{"x": [7, 8], "y": [0]}\n';
    const digits = readDataFile(classes, lines, 'jsonl');
    expect(digits.examples.x).toEqual(Uint8Array.from([0, 255, 7, 8]));
    expect(digits.examples.y).toEqual(Int32Array.from([2, 0]));
    expect(digits.groups).toBeNull();
  });

  it("refuses the first bad row with the line, the field and the example check's code", () => {
    const reason = (read: () => unknown): string => {
      try {
        read();
        return 'ok';
      } catch (err) {
        const e = err as DataFileError;
        return `${e.code} ${e.reason} line ${e.line}: ${e.message}`;
      }
    };
    expect(reason(() => readDataFile(classes, 'a,b,y\n1,2,0\n3,4,3\n', 'csv'))).toBe(
      'INVALID_DATA BAD_LABEL line 3: line 3, field "y": "y" expected a label in [0, 2], got 3',
    );
    expect(
      reason(() => readDataFile(classes, '{"x": [1, 2], "y": 0}\n\n{"x": [1, 256], "y": 0}', 'jsonl')),
    ).toMatch(/^INVALID_DATA OUT_OF_RANGE line 3: line 3, field "x\[1\]"/);
    expect(reason(() => readDataFile(regression, 'a,b,y\n1,2,3\n', 'csv'))).toMatch(
      /^INVALID_DATA SHAPE_MISMATCH line 2: .*"x" expected 3 values, got 2/,
    );
    expect(reason(() => readDataFile(regression, 'a,b,c,y\n1,NaN,2,3\n', 'csv'))).toMatch(
      /^INVALID_DATA NON_FINITE line 2/,
    );
    expect(reason(() => readDataFile(regression, 'a,b,c,y\n', 'csv'))).toMatch(/holds no examples/);
    const mixed = '{"x": [1, 2, 3], "y": 1, "group": "a"}\n{"x": [1, 2, 3], "y": 1}';
    expect(reason(() => readDataFile(regression, mixed, 'jsonl'))).toMatch(
      /^INVALID_DATA null line 2: line 2, field "group": is missing/,
    );
  });
});
