import { buildModel, setFlatWeights } from '@pollen/ml';
import { readDataFile } from '@pollen/ml/data';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NodeContributor,
  OPERATOR_HEADERS,
  removeDir,
  startTestCoordinator,
  type TestCoordinator,
  waitFor,
} from '../testing/harness.ts';
import { REGRESSION_TASK, regressionCsv } from '../testing/saved-model.ts';

let coordinator: TestCoordinator;

beforeAll(async () => {
  // Every version kept: under load the task commits many rounds while a version's evaluation
  // waits, and the test reads the weights of the version its round made.
  coordinator = await startTestCoordinator({}, undefined, {
    retention: { keepLast: 1_000_000, keepEvery: 1 },
  });
  const res = await coordinator.app.inject({
    method: 'POST',
    url: '/api/tasks',
    headers: OPERATOR_HEADERS,
    payload: {
      id: 'houses',
      name: 'House prices',
      model: { kind: 'mlp', hidden: [4] },
      ...REGRESSION_TASK,
      rounds: { cohortSize: 1, minReports: 1, minClients: 1, overSelection: 1, deadlineMs: 5000 },
    },
  });
  expect(res.statusCode).toBe(201);
});
afterAll(async () => {
  await coordinator.close();
  removeDir(coordinator.dataDir);
});

async function heldOut(
  method: 'PUT' | 'GET' | 'DELETE',
  taskId: string,
  body?: string,
  type = 'text/csv',
): Promise<{ http: number } & Record<string, unknown>> {
  const res = await coordinator.app.inject({
    method,
    url: `/api/tasks/${taskId}/held-out`,
    headers: { ...OPERATOR_HEADERS, ...(body === undefined ? {} : { 'content-type': type }) },
    ...(body === undefined ? {} : { payload: body }),
  });
  return { ...(res.json() as Record<string, unknown>), http: res.statusCode };
}

/** The mean squared error of a version of the task on a CSV, computed here with tfjs. */
async function mseOf(version: number, csv: string): Promise<number> {
  const task = (await coordinator.store.getTask('houses'))!;
  const { examples } = readDataFile(task.spec, csv, 'csv', task.spec.columns);
  const model = await buildModel(task.spec);
  setFlatWeights(model, (await coordinator.store.getVersion('houses', version))!.weights);
  const predicted = (
    model.predict(tf.tensor2d(examples.x as Float32Array, [examples.count, 3])) as tf.Tensor
  ).dataSync();
  model.dispose();
  let sum = 0;
  for (let i = 0; i < examples.count; i++) sum += (predicted[i]! - examples.y[i]!) ** 2;
  return sum / examples.count;
}

/** Let one client commit one more round of the task; returns the new version's metrics. */
/**
 * The metrics of the version made by the first round that starts after this call, once its
 * evaluation attached them: a round
 * already open (a previous client may still be in one) committed on whatever held-out set was
 * there when it began evaluating.
 */
async function nextVersion(): Promise<{ version: number; metrics: Record<string, number> | null }> {
  const rounds = await coordinator.store.listRounds('houses');
  const lastRound = Math.max(0, ...rounds.map((r) => r.roundId));
  const client = new NodeContributor(coordinator.url, `client-h${lastRound}`, (g) =>
    new Float32Array(g.length).fill(0.01),
  );
  await client.hello('houses');
  const made = await waitFor(
    async () =>
      (await coordinator.store.listRounds('houses')).find(
        // Evaluated: held-out metrics attach after the commit (docs/design.md).
        (r) => r.roundId > lastRound && r.status === 'committed' && r.evaluationMs !== undefined,
      ),
    15_000,
  );
  client.close();
  const version = made.newVersion!;
  return { version, metrics: (await coordinator.store.getVersion('houses', version))!.metrics };
}

describe('held-out data of a task', () => {
  it('says where versions are evaluated: nowhere yet, or on the built-in digits', async () => {
    expect(await heldOut('GET', 'houses')).toMatchObject({ http: 200, source: null, count: null });
    expect(await heldOut('GET', 'tiny')).toMatchObject({ http: 200, source: 'builtin' });
    // No held-out data: no figure, never a fake one.
    expect((await coordinator.store.listVersions('houses'))[0]!.metrics).toBeNull();
  });

  it("refuses a bad file with the line and field, and a body of another type; the task's data stays", async () => {
    const cases: [string, string, string, number, string, RegExp][] = [
      [
        'a text cell',
        'text/csv',
        'user,a,b,c,price\nu,1,2,3,4\nu,1,x,3,4\n',
        400,
        'INVALID_DATA',
        /^line 3, column "b": expected a number, got "x"/,
      ],
      [
        'a missing column',
        'text/csv',
        'user,a,b,price\nu,1,2,4\n',
        400,
        'INVALID_DATA',
        /^line 1, column "c": the feature column is not in the header/,
      ],
      [
        'a non-finite value',
        'text/csv',
        'a,b,c,price\n1,2,3,Infinity\n',
        400,
        'INVALID_DATA',
        /^line 2, field "y\[0\]": "y\[0\]" is Infinity/,
      ],
      [
        'a JSON line of another shape',
        'application/x-ndjson',
        '{"x": [1, 2, 3], "y": 1}\n{"x": [1, 2], "y": 1}\n',
        400,
        'INVALID_DATA',
        /^line 2, field "x": "x" expected 3 values, got 2/,
      ],
      [
        'JSON',
        'application/json',
        '{"x": [1, 2, 3]}',
        400,
        'INVALID_DATA',
        /held-out data is a text\/csv or application\/x-ndjson/,
      ],
      ['plain text', 'text/plain', 'a,b', 400, 'INVALID_DATA', /held-out data is a text\/csv/],
    ];
    for (const [name, type, body, http, code, message] of cases) {
      const res = await heldOut('PUT', 'houses', body, type);
      expect(res, name).toMatchObject({ http, code });
      expect(res.message, name).toMatch(message);
    }
    expect(await heldOut('PUT', 'nope', regressionCsv(3))).toMatchObject({ http: 404, code: 'UNKNOWN_TASK' });
    expect(await heldOut('GET', 'houses')).toMatchObject({ source: null });
  });

  it('evaluates every later version on an upload with the task loss and metrics, replaced on re-upload, none after delete', async () => {
    const csv = regressionCsv(50);
    const put = await heldOut('PUT', 'houses', csv);
    expect(put).toMatchObject({
      http: 200,
      taskId: 'houses',
      source: 'uploaded',
      count: 50,
      bytes: 16 + 50 * 3 * 4 + 50 * 4,
    });
    expect(await heldOut('GET', 'houses')).toMatchObject({
      source: 'uploaded',
      count: 50,
      digest: put.digest,
    });

    const { version, metrics } = await nextVersion();
    const first = metrics!;
    expect(Object.keys(first).sort()).toEqual(['loss', 'mae', 'mse']);
    expect(first.mse).toBeCloseTo(await mseOf(version, csv), 4);

    // JSON lines replace the CSV: the next version is scored on the new set.
    const lines = '{"x": [0, 0, 0], "y": 100}\n{"x": [1, 1, 1], "y": -100}\n';
    const replaced = await heldOut('PUT', 'houses', lines, 'application/x-ndjson');
    expect(replaced).toMatchObject({ http: 200, count: 2 });
    expect(replaced.digest).not.toBe(put.digest);
    const second = (await nextVersion()).metrics!;
    expect(second.mse).toBeGreaterThan(1000);

    expect(await heldOut('DELETE', 'houses')).toMatchObject({ http: 200, source: null });
    expect((await nextVersion()).metrics).toBeNull();
    expect(await heldOut('DELETE', 'houses')).toMatchObject({ http: 200, source: null });
  });

  it("reads a CSV by the task's columns, which PATCH may change", async () => {
    const patched = await coordinator.app.inject({
      method: 'PATCH',
      url: '/api/tasks/houses',
      headers: OPERATOR_HEADERS,
      payload: { columns: { features: ['x2', 'x1', 'x0'], target: 'y' } },
    });
    expect(patched.statusCode).toBe(200);
    const csv = 'x0,x1,x2,y\n1,2,3,4\n5,6,7,8\n';
    expect(await heldOut('PUT', 'houses', csv)).toMatchObject({ http: 200, count: 2 });
    const stored = (await coordinator.store.getHeldOut('houses'))!;
    // Features in the order the spec names them: x2, x1, x0.
    expect(
      Array.from(
        new Float32Array(stored.data.buffer.slice(stored.data.byteOffset + 16, stored.data.byteOffset + 28)),
      ),
    ).toEqual([3, 2, 1]);
    expect(await heldOut('PUT', 'houses', 'a,b,c,price\n1,2,3,4\n')).toMatchObject({
      http: 400,
      message: expect.stringMatching(/^line 1, column "y": the target column is not in the header/),
    });
  });
});

describe('a built-in text task', () => {
  it('is evaluated on its built-in held-out split, with its baselines, and serves shards of its examples', async () => {
    const { readFileSync } = await import('node:fs');
    const { decodeExampleSet } = await import('@pollen/ml');
    const { builtinTaskFile } = await import('../task-file.ts');
    const spam = JSON.parse(readFileSync(builtinTaskFile('spam'), 'utf8')) as Record<string, unknown>;
    const created = await coordinator.app.inject({
      method: 'POST',
      url: '/api/tasks',
      headers: OPERATOR_HEADERS,
      payload: { ...spam, id: 'spam-test' },
    });
    expect(created.statusCode).toBe(201);
    const reply = await heldOut('GET', 'spam-test');
    expect(reply).toMatchObject({ http: 200, source: 'builtin' });
    expect(reply.baselines).toEqual([
      { name: 'majority', metrics: { accuracy: expect.any(Number), auc: 0.5 } },
    ]);
    // Version 0 is scored on the 298 held-out messages under the task's metric names.
    const v0 = await waitFor(
      async () => (await coordinator.store.getVersion('spam-test', 0))?.metrics ?? undefined,
      30_000,
    );
    expect(Object.keys(v0).sort()).toEqual(['accuracy', 'auc', 'loss']);
    const res = await coordinator.app.inject('/api/tasks/spam-test/shard/client-spam1');
    expect(res.statusCode).toBe(200);
    const task = (await coordinator.store.getTask('spam-test'))!;
    const shard = decodeExampleSet(task.spec, new Uint8Array(res.rawPayload));
    expect(shard.count).toBeGreaterThan(50);
    expect(shard.x).toBeInstanceOf(Float32Array);
    expect(shard.x.length).toBe(shard.count * 1024);
    expect(new Set(shard.y)).toEqual(new Set([shard.y[0]]));
  });
});
