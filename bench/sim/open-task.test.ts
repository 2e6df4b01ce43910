import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { seededRng } from '@pollen/fl-core';
import { afterAll, describe, expect, it } from 'vitest';
import { regressionCsv } from '../data/regression.ts';
import { partitionByGroup, splitHeldOut } from './data-partition.ts';
import { loadOpenTask, meanBaselineMse } from './open-task.ts';
import { parseSimArgs } from './options.ts';

const dir = mkdtempSync(join(tmpdir(), 'pollen-open-task-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TASK_FILE = resolve(import.meta.dirname, '../tasks/regression.task.json');
const csv = join(dir, 'small.csv');
writeFileSync(csv, regressionCsv({ rows: 200, users: 10, seed: 3 }));

function open(extra: string[], data = csv) {
  return loadOpenTask(
    parseSimArgs(['--node', '--task', TASK_FILE, '--data', data, '--quiet', ...extra]),
    dir,
  );
}

const regression = {
  input: { shape: [1], dtype: 'float32' as const },
  target: { kind: 'regression' as const, shape: [1] },
};

describe('pnpm sim --task --data: reading and splitting the data file', () => {
  it('holds out a seeded fifth of the rows and gives each client whole groups of the group column', () => {
    const a = open(['--clients', '4', '--partition', 'column:user', '--seed', '5']);
    expect(a.report).toMatchObject({ rows: 200, heldOutExamples: 40, trainExamples: 160 });
    expect(a.shards.reduce((n, s) => n + s.count, 0)).toBe(160);
    expect(a.task).toMatchObject({
      id: 'sim',
      columns: { target: 'y', group: 'user' },
      loss: 'meanSquaredError',
      metrics: ['mse', 'mae'],
    });
    // The same seed, the same split; another seed, another held-out set.
    expect(open(['--clients', '4', '--partition', 'column:user', '--seed', '5']).heldOut.y).toEqual(
      a.heldOut.y,
    );
    expect(open(['--clients', '4', '--partition', 'column:user', '--seed', '6']).heldOut.y).not.toEqual(
      a.heldOut.y,
    );
    expect(a.report.baselineMse).toBeGreaterThan(1);
  });

  it('keeps each group on one client and refuses fewer groups than clients', () => {
    const groups = ['a', 'b', 'a', 'c', 'b', 'd', 'a'];
    const parts = partitionByGroup(groups, 2, seededRng(1));
    expect(parts.flat().sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    for (const g of ['a', 'b', 'c', 'd']) {
      const owners = parts.filter((p) => p.some((i) => groups[i] === g));
      expect(owners, g).toHaveLength(1);
    }
    expect(() => partitionByGroup(groups, 5, seededRng(1))).toThrow(
      /4 distinct values .* fewer than --clients 5/,
    );
  });

  it('splits held-out and training rows without overlap', () => {
    const { heldOut, train } = splitHeldOut(10, 0.3, seededRng(2));
    expect(heldOut).toHaveLength(3);
    expect([...heldOut, ...train].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(() => splitHeldOut(1, 0.2, seededRng(2))).toThrow(/leave none to train on/);
  });

  it('gives the MSE of predicting the training mean (known answer)', () => {
    const train = { count: 2, x: new Float32Array(2), y: Float32Array.of(1, 3) };
    const heldOut = { count: 2, x: new Float32Array(2), y: Float32Array.of(0, 4) };
    // The mean is 2: ((0 - 2)^2 + (4 - 2)^2) / 2.
    expect(meanBaselineMse(regression, train, heldOut)).toBe(4);
  });

  it('refuses a label-skewed partition of a regression target, and names the line of a bad row', () => {
    expect(() => open(['--partition', 'dirichlet:0.5'])).toThrow(
      /"--partition dirichlet" skews labels and needs a class target; this task's target is regression/,
    );
    // The task file names its CSV columns (group "user"): IID needs no --columns.
    expect(open(['--partition', 'iid', '--clients', '4']).shards).toHaveLength(4);
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'user,x0,x1,x2,x3,x4,x5,x6,x7,y\nu1,1,2,3,4,5,6,7,8,1\nu2,1,2,3,4,5,6,7,8,oops\n');
    expect(() => open([], bad)).toThrow(/line 3, column "y": expected a number, got "oops"/);
    // A text column the columns leave among the features.
    const city = join(dir, 'city.csv');
    writeFileSync(city, 'user,city,x0,x1,x2,x3,x4,x5,x6,y\nu1,paris,1,2,3,4,5,6,7,1\n');
    expect(() => open([], city)).toThrow(
      /line 2, column "city": expected a number, got "paris"; if "city" says who a row came from, name it/,
    );
    // --columns replaces the task file's fields one by one.
    expect(() => open(['--columns', '{"group": "city"}'], city)).toThrow(
      /line 2, column "user": expected a number/,
    );
    expect(() => open(['--clients', '500'])).toThrow(/--clients 500 is more than the 160 training rows/);
  });
});
