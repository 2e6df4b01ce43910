import { bytesToBase64 } from '@pollen/ml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  OPERATOR_HEADERS,
  removeDir,
  startTestCoordinator,
  type TestCoordinator,
} from '../testing/harness.ts';
import { REGRESSION_TASK, type SavedModel, saveRegressionModel } from '../testing/saved-model.ts';

let coordinator: TestCoordinator;
let saved: SavedModel;

beforeAll(async () => {
  coordinator = await startTestCoordinator();
  saved = await saveRegressionModel();
});
afterAll(async () => {
  await coordinator.close();
  removeDir(coordinator.dataDir);
});

const ROUNDS = { cohortSize: 1, minReports: 1, minClients: 1, overSelection: 1, deadlineMs: 5000 };
const task = (id: string, over: Record<string, unknown> = {}): Record<string, unknown> => ({
  id,
  name: 'House prices',
  ...REGRESSION_TASK,
  rounds: ROUNDS,
  ...over,
});

type Part = [name: string, value: string | Uint8Array];

/** A multipart body as a browser's FormData (and `tf.io.http`) sends it. */
async function post(parts: Part[]): Promise<{ http: number; code?: string; message?: string }> {
  const form = new FormData();
  for (const [name, value] of parts) {
    if (typeof value === 'string') form.append(name, value);
    else form.append(name, new Blob([value]), name);
  }
  const request = new Request('http://pollen/api/tasks', { method: 'POST', body: form });
  const res = await coordinator.app.inject({
    method: 'POST',
    url: '/api/tasks',
    headers: { ...OPERATOR_HEADERS, 'content-type': request.headers.get('content-type')! },
    payload: Buffer.from(await request.arrayBuffer()),
  });
  return { ...(res.json() as { code?: string; message?: string }), http: res.statusCode };
}

async function postJson(body: unknown): Promise<{ http: number; code?: string; message?: string }> {
  const res = await coordinator.app.inject({
    method: 'POST',
    url: '/api/tasks',
    headers: { ...OPERATOR_HEADERS, 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });
  return { ...(res.json() as { code?: string; message?: string }), http: res.statusCode };
}

const modelParts = (json: unknown = saved.json, files = saved.files): Part[] => [
  ['model.json', new TextEncoder().encode(JSON.stringify(json))],
  ...[...files].map(([name, bytes]): Part => [name, bytes]),
];

describe('creating a task with its model', () => {
  it('takes a tfjs model.json and its weight files as multipart: they become version 0', async () => {
    const res = await post([['task', JSON.stringify(task('houses'))], ...modelParts()]);
    expect(res).toMatchObject({ http: 201, id: 'houses' });
    expect((await coordinator.store.getVersion('houses', 0))!.weights).toEqual(saved.weights);
    const stored = (await coordinator.store.getTask('houses'))!;
    // The initial weights live in version 0, not in the spec every hello reads.
    expect(stored.spec.model).toEqual({ topology: saved.json.modelTopology });
    expect(stored.spec).toMatchObject({ loss: 'meanSquaredError', metrics: ['mse', 'mae'] });
    expect(stored.spec).not.toHaveProperty('data');
  });

  it('keeps the JSON form: an inline topology with base64 weights', async () => {
    const weights = {
      specs: (saved.json.weightsManifest as { weights: unknown[] }[])[0]!.weights,
      data: bytesToBase64(new Uint8Array(saved.weights.buffer)),
    };
    const res = await postJson(
      task('houses-json', { model: { topology: saved.json.modelTopology, weights } }),
    );
    expect(res).toMatchObject({ http: 201, id: 'houses-json' });
    expect((await coordinator.store.getVersion('houses-json', 0))!.weights).toEqual(saved.weights);
  });

  it('checks a JSON body against the task schema without coercing it, naming the field', async () => {
    const cases: [unknown, RegExp][] = [
      [
        task('j1', { training: { epochs: '1', batchSize: 8, learningRate: 0.1 } }),
        /"training.epochs" expected integer/,
      ],
      [task('j2', { colour: 'red' }), /"colour" expected no such field/],
      [task('j3', { columns: { features: ['a'] } }), /"columns.features" names 1 columns/],
      [task('j4', { model: { path: './model.json' } }), /"model.path" is for task files/],
      [[1, 2], /"task" expected a JSON object/],
    ];
    for (const [body, message] of cases) {
      const res = await postJson(body);
      expect(res, String(message)).toMatchObject({ http: 400, code: 'INVALID_TASK' });
      expect(res.message).toMatch(message);
    }
  });

  it('refuses each bad upload with a stable code naming the part, field or file', async () => {
    const [first, second] = [...saved.files.keys()];
    const entries = (
      saved.json.weightsManifest as { paths: string[]; weights: Record<string, unknown>[] }[]
    )[0]!;
    const spec = JSON.stringify(task('bad'));
    const cases: [string, Part[], string, RegExp][] = [
      ['no task part', modelParts(), 'INVALID_TASK', /the "task" part is missing/],
      [
        'a task part that is not JSON',
        [['task', '{id:'], ...modelParts()],
        'INVALID_TASK',
        /"task" part is not JSON/,
      ],
      [
        'a bad task field',
        [['task', JSON.stringify(task('bad', { input: { shape: [0], dtype: 'float32' } }))], ...modelParts()],
        'INVALID_TASK',
        /"input.shape\[0\]" expected integer/,
      ],
      [
        'a model in the task and a model.json',
        [['task', JSON.stringify(task('bad', { model: { kind: 'mlp', hidden: [2] } }))], ...modelParts()],
        'INVALID_TASK',
        /"model" is given twice/,
      ],
      [
        'a model whose output disagrees with the target',
        [
          [
            'task',
            JSON.stringify(task('bad', { target: { kind: 'regression', shape: [2] }, columns: undefined })),
          ],
          ...modelParts(),
        ],
        'INVALID_TASK',
        /"target" \(regression\) needs a model output of \[2\], the model gives \[1\]/,
      ],
      [
        'a missing weight file',
        [['task', spec], ...modelParts().slice(0, 2)],
        'INVALID_MODEL',
        new RegExp(`"${second}", which is missing`),
      ],
      [
        'a weight file twice',
        [['task', spec], ...modelParts(), [first!, saved.files.get(first!)!]],
        'INVALID_MODEL',
        new RegExp(`weight file "${first}" appears twice`),
      ],
      [
        'a file the manifest does not name',
        [['task', spec], ...modelParts(), ['extra.bin', new Uint8Array(4)]],
        'INVALID_MODEL',
        /weight file "extra.bin" is not named by model.json/,
      ],
      [
        'a truncated weight file',
        [
          ['task', spec],
          ...modelParts(
            saved.json,
            new Map([
              [first!, saved.files.get(first!)!],
              [second!, new Uint8Array(4)],
            ]),
          ),
        ],
        'INVALID_MODEL',
        /hold 36 bytes; the weights of "model.json.weightsManifest\[0\]" \(4 entries\) take 84/,
      ],
      [
        'a weight entry of another dtype',
        [
          ['task', spec],
          ...modelParts({
            ...saved.json,
            weightsManifest: [
              {
                ...entries,
                weights: entries.weights.map((w, i) => (i === 2 ? { ...w, dtype: 'string' } : w)),
              },
            ],
          }),
        ],
        'INVALID_MODEL',
        /"model.json.weightsManifest\[0\].weights\[2\].dtype" expected one of float32, int32/,
      ],
      [
        'weight files without a model.json',
        [['task', spec], ...modelParts().slice(1)],
        'INVALID_MODEL',
        new RegExp(`weight file "${first}" came without a "model.json" part`),
      ],
      [
        'a field other than task',
        [
          ['task', spec],
          ['note', 'hello'],
        ],
        'INVALID_MODEL',
        /part "note" must be a file/,
      ],
      [
        'a model.json that is not JSON',
        [
          ['task', spec],
          ['model.json', new Uint8Array([123])],
        ],
        'INVALID_MODEL',
        /"model.json" part is not JSON/,
      ],
      [
        'a model.json past its limit',
        [
          ['task', spec],
          ['model.json', new Uint8Array(4 * 1024 * 1024 + 1)],
        ],
        'PAYLOAD_TOO_LARGE',
        /"model.json" exceeds 4194304 bytes/,
      ],
      [
        'too many parts',
        [['task', spec], ...Array.from({ length: 260 }, (_, i): Part => [`w${i}.bin`, new Uint8Array(4)])],
        'INVALID_MODEL',
        /an upload has at most 258 parts/,
      ],
    ];
    for (const [name, parts, code, message] of cases) {
      const res = await post(parts);
      expect(res.code, name).toBe(code);
      expect(res.http, name).toBe(code === 'PAYLOAD_TOO_LARGE' ? 413 : 400);
      expect(res.message, name).toMatch(message);
    }
    expect(await coordinator.store.getTask('bad')).toBeUndefined();
  });

  it('documents both bodies in the OpenAPI document from the task schema', async () => {
    const doc = (await coordinator.app.inject({ method: 'GET', url: '/api/openapi.json' })).json() as {
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: { properties?: object } }> } }>
      >;
    };
    const content = doc.paths['/api/tasks']!.post!.requestBody!.content;
    expect(Object.keys(content['application/json']!.schema.properties!)).toEqual(
      expect.arrayContaining([
        'id',
        'model',
        'input',
        'target',
        'loss',
        'metrics',
        'columns',
        'training',
        'rounds',
      ]),
    );
    expect(Object.keys(content['multipart/form-data']!.schema.properties!)).toEqual(['task', 'model.json']);
    const heldOut = doc.paths['/api/tasks/{id}/held-out']!.put!.requestBody!.content;
    expect(Object.keys(heldOut)).toEqual(['text/csv', 'application/x-ndjson']);
  });
});
