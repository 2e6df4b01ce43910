import { describe, expect, it } from 'vitest';
import type { BenchError } from '../lib/errors.ts';
import { parseColumns } from './data-option.ts';
import { parseSimArgs } from './options.ts';

const TASK = ['--node', '--task', 'regression.task.json', '--data', 'regression.csv'];

function refused(args: string[]): BenchError {
  try {
    parseSimArgs(args);
  } catch (err) {
    return err as BenchError;
  }
  throw new Error(`accepted ${args.join(' ')}`);
}

describe('pnpm sim --task --data options', () => {
  it('reads the files, the held-out fraction (0.2 by default) and a natural partition into the group column', () => {
    const o = parseSimArgs([...TASK, '--partition', 'column:user', '--clients', '5', '--epochs', '4']);
    expect(o.open).toEqual({
      taskFile: 'regression.task.json',
      dataFile: 'regression.csv',
      heldOutFraction: 0.2,
      columns: { group: 'user' },
    });
    expect(o.partition).toEqual({ kind: 'column', column: 'user' });
    expect(o.given).toEqual(expect.arrayContaining(['task', 'data', 'partition', 'clients', 'epochs']));
    expect(o.given).not.toContain('lr');
    const iid = parseSimArgs([
      ...TASK,
      '--partition',
      'iid',
      '--held-out-fraction',
      '0.3',
      '--columns',
      '{"group":"user"}',
    ]);
    expect(iid.open).toMatchObject({ heldOutFraction: 0.3, columns: { group: 'user' } });
    expect(parseSimArgs(['--node']).open).toBeNull();
  });

  it('reads the columns object of docs/tasks.md and refuses each bad field by name', () => {
    expect(parseColumns('{"features": ["a", "b"], "target": ["y0", "y1"], "group": "g"}')).toEqual({
      features: ['a', 'b'],
      target: ['y0', 'y1'],
      group: 'g',
    });
    expect(() => parseColumns('{"target": "y"')).toThrow(/"--columns" is not JSON/);
    expect(() => parseColumns('["y"]')).toThrow(/"--columns" expected an object/);
    expect(() => parseColumns('{"label": "y"}')).toThrow(/"--columns" has no field "label"/);
    expect(() => parseColumns('{"features": []}')).toThrow(/features expected a non-empty list/);
    expect(() => parseColumns('{"features": ["a", 3]}')).toThrow(
      /features\[1\] expected a column name, got 3/,
    );
    expect(() => parseColumns('{"target": ""}')).toThrow(/target expected a column name/);
    expect(() => parseColumns('{"group": null}')).toThrow(/group expected a column name, got null/);
  });

  it('refuses data options that do not go together, with INVALID_OPTION', () => {
    const cases: [string[], RegExp][] = [
      [['--node', '--task', 't.json'], /"--task" and "--data" go together/],
      [['--node', '--data', 'd.csv'], /"--task" and "--data" go together/],
      [['--node', '--held-out-fraction', '0.1'], /"--held-out-fraction" applies to --task/],
      [['--node', '--columns', '{}'], /"--columns" applies to --task/],
      [['--node', '--partition', 'column:user'], /column:NAME" needs --task FILE --data FILE/],
      [['--browser', '--task', 't.json', '--data', 'd.csv'], /run Node clients/],
      [[...TASK, '--shards', '4'], /"--shards" applies to the built-in digits/],
      [[...TASK, '--held-out-fraction', '0'], /"--held-out-fraction" expected a number in \[0.01, 0.9\]/],
      [[...TASK, '--held-out-fraction', '0.95'], /"--held-out-fraction" expected a number/],
      [[...TASK, '--partition', 'column:user', '--columns', '{"group":"author"}'], /disagree/],
      [
        [...TASK, '--partition', 'column:'],
        /"--partition" expected iid, dirichlet:ALPHA, shards:K, natural or column:NAME/,
      ],
    ];
    for (const [args, message] of cases) {
      expect(refused(args), args.join(' ')).toMatchObject({
        code: 'INVALID_OPTION',
        message: expect.stringMatching(message),
      });
    }
  });
});
