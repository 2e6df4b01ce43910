import { describe, expect, it } from 'vitest';
import { parseCsvData } from './csv.ts';
import { parseJsonLinesData } from './json-lines.ts';
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
