import { specSize } from '@pollen/fl-core';
import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  NodeContributor,
  OPERATOR_HEADERS,
  removeDir,
  startTestCoordinator,
  type TestCoordinator,
  waitFor,
} from './testing/harness.ts';

let coordinator: TestCoordinator | undefined;
const dirs: string[] = [];

afterEach(async () => {
  await coordinator?.close();
  coordinator = undefined;
  for (const dir of dirs.splice(0)) removeDir(dir);
});

const task = {
  rounds: { cohortSize: 1, minReports: 1, minClients: 1, overSelection: 1, deadlineMs: 10_000, maxRounds: 3 },
};

async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await coordinator!.app.inject({ url: path, headers: OPERATOR_HEADERS });
  return { status: res.statusCode, body: res.json<Record<string, unknown>>() };
}

describe('coordinator', () => {
  it('keeps every committed version and round across a restart, and resumes after them', async () => {
    coordinator = await startTestCoordinator(task);
    const { dataDir } = coordinator;
    dirs.push(dataDir);
    const d = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
    const client = new NodeContributor(coordinator.url, 'client-rest', () => new Float32Array(d).fill(0.01));
    await client.hello();
    await waitFor(async () => (await coordinator!.store.getTask('tiny'))!.status === 'completed', 20_000);
    client.close();
    // Held-out metrics attach after the commit: once the newest version's have, no evaluation
    // of an older one follows (docs/design.md, "Evaluation off the commit path").
    await waitFor(async () =>
      (await coordinator!.store.listRounds('tiny')).some(
        (r) => r.newVersion === 3 && r.evaluationMs !== undefined,
      ),
    );
    const versionsBefore = await coordinator.store.listVersions('tiny');
    const roundsBefore = await coordinator.store.listRounds('tiny');
    const weightsBefore = (await coordinator.store.getVersion('tiny', 3))!.weights;
    expect(versionsBefore.map((v) => v.version)).toEqual([0, 1, 2, 3]);
    await coordinator.close();

    coordinator = await startTestCoordinator(task, dataDir);
    expect(await coordinator.store.listVersions('tiny')).toEqual(versionsBefore);
    expect(await coordinator.store.listRounds('tiny')).toEqual(roundsBefore);
    expect((await coordinator.store.getVersion('tiny', 3))!.weights).toEqual(weightsBefore);
    expect((await coordinator.store.getTask('tiny'))!.currentVersion).toBe(3);
    expect(await coordinator.store.nextRoundId('tiny')).toBe(roundsBefore.length + 1);
  });

  it('abandons a round in flight when stopped, without applying it', async () => {
    coordinator = await startTestCoordinator({ rounds: { ...task.rounds, maxRounds: 0 } });
    const { dataDir } = coordinator;
    dirs.push(dataDir);
    const { store } = coordinator;
    const silent = new NodeContributor(coordinator.url, 'client-mute');
    const started = silent.nextRound();
    await silent.hello();
    const msg = await started;
    expect((await store.listRounds('tiny'))[0]!.status).toBe('open');
    await coordinator.close();
    silent.close();
    coordinator = await startTestCoordinator(task, dataDir);
    const [round] = await coordinator.store.listRounds('tiny');
    expect(round!.roundId).toBe(msg.roundId);
    expect(round!.status).toBe('abandoned');
    expect((await coordinator.store.getTask('tiny'))!.currentVersion).toBe(0);
  });

  it('serves the global model as tfjs artifacts that tf.loadLayersModel loads', async () => {
    coordinator = await startTestCoordinator(task);
    dirs.push(coordinator.dataDir);
    await tf.setBackend('cpu');
    const model = await tf.loadLayersModel(`${coordinator.url}/api/tasks/tiny/model`, {
      requestInit: { headers: OPERATOR_HEADERS },
    });
    const loaded = await Promise.all(model.getWeights().map((w) => w.data()));
    const stored = (await coordinator.store.getVersion('tiny', 0))!.weights;
    expect(loaded.reduce((n, w) => n + w.length, 0)).toBe(stored.length);
    expect(Array.from(loaded[0]!.slice(0, 5))).toEqual(Array.from(stored.slice(0, 5)));
    const out = model.predict(tf.zeros([1, 784])) as tf.Tensor;
    expect(out.shape).toEqual([1, 10]);
    model.dispose();
    // A version named in the URL: tfjs appends that query to the weights' path it is given
    // (`weights.bin?version=0?version=0`), which the coordinator reads as version 0.
    const pinned = await tf.loadLayersModel(`${coordinator.url}/api/tasks/tiny/model?version=0`, {
      requestInit: { headers: OPERATOR_HEADERS },
    });
    expect(pinned.getWeights().reduce((n, w) => n + w.size, 0)).toBe(stored.length);
    pinned.dispose();
  });

  it('answers the task API and refuses bad paths and parameters with stable codes', async () => {
    coordinator = await startTestCoordinator(task);
    dirs.push(coordinator.dataDir);
    expect((await get('/healthz')).body.ok).toBe(true);
    const list = await get('/api/tasks');
    expect((list.body as unknown as { id: string }[])[0]!.id).toBe('tiny');
    const one = await get('/api/tasks/tiny');
    expect(one.body.currentVersion).toBe(0);
    expect((await get('/api/tasks/tiny/rounds')).body).toEqual([]);
    expect(await get('/api/tasks/nope')).toMatchObject({
      status: 404,
      body: { ok: false, code: 'UNKNOWN_TASK' },
    });
    expect(await get('/api/tasks/NOT..valid')).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    expect(await get('/api/tasks/tiny/model?version=9')).toMatchObject({
      status: 400,
      body: { code: 'INVALID_ARGUMENT' },
    });
    expect(await get('/api/tasks/tiny/model?version=-1')).toMatchObject({
      status: 400,
      body: { code: 'INVALID_ARGUMENT' },
    });
    expect(await get('/api/tasks/tiny/rounds?limit=abc')).toMatchObject({
      status: 400,
      body: { code: 'INVALID_ARGUMENT' },
    });
    expect(await get('/api/tasks/tiny/shard/x')).toMatchObject({
      status: 400,
      body: { code: 'INVALID_ARGUMENT' },
    });
    expect(await get('/no/such/route')).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    const res = await coordinator.app.inject('/api/tasks/tiny/shard/client-shard1');
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    // The same client id gets the same shard every time.
    const again = await coordinator.app.inject('/api/tasks/tiny/shard/client-shard1');
    expect(again.headers['x-pollen-shard']).toBe(res.headers['x-pollen-shard']);
  });
});
