import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildModel, setFlatWeights } from '@pollen/ml';
import { modelFromArtifacts } from '@pollen/ml/artifacts';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  removeDir,
  startTestCoordinator,
  TEST_OPERATOR_TOKEN,
  type TestCoordinator,
} from '../testing/harness.ts';
import {
  REGRESSION_TASK,
  regressionCsv,
  saveRegressionModel,
  writeSavedModel,
} from '../testing/saved-model.ts';
import { runCli } from './main.ts';

let coordinator: TestCoordinator;
const dir = mkdtempSync(join(tmpdir(), 'pollen-cli-'));

beforeAll(async () => {
  coordinator = await startTestCoordinator();
  writeSavedModel(join(dir, 'houses'), await saveRegressionModel());
  writeFileSync(
    join(dir, 'houses', 'task.json'),
    JSON.stringify({
      id: 'houses',
      name: 'House prices',
      model: { path: './model.json' },
      ...REGRESSION_TASK,
      rounds: { cohortSize: 1, minReports: 1, minClients: 1, overSelection: 1, deadlineMs: 5000 },
    }),
  );
  writeFileSync(join(dir, 'held-out.csv'), regressionCsv(40));
});
afterAll(async () => {
  await coordinator.close();
  removeDir(coordinator.dataDir);
  removeDir(dir);
});

/** Run the CLI in this process against the coordinator, from `dir`, as `pnpm pollen ARGS`. */
async function pollen(
  args: string[],
  env: NodeJS.ProcessEnv = { POLLEN_TOKEN: TEST_OPERATOR_TOKEN, POLLEN_DATA_DIR: dir },
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli([...args, '--url', coordinator.url], {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    env,
    cwd: dir,
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('pnpm pollen', () => {
  it('creates a task from a task file naming a model.json, with its held-out data', async () => {
    const res = await pollen(['task', 'create', '--spec', 'houses/task.json', '--held-out', 'held-out.csv']);
    expect(res).toMatchObject({ code: 0, err: '' });
    expect(res.out).toBe(
      `created task houses (version 0)\nheld-out data: 40 examples from ${join(dir, 'held-out.csv')}`,
    );
    const saved = readFileSync(join(dir, 'houses', 'group1-shard1of2.bin'));
    const version0 = (await coordinator.store.getVersion('houses', 0))!.weights;
    expect(Buffer.from(version0.buffer).subarray(0, saved.length)).toEqual(saved);
    expect(await coordinator.store.getHeldOutInfo('houses')).toMatchObject({ count: 40 });
    // Evaluated on the upload from the next version on; version 0 predates it.
    expect((await coordinator.store.listVersions('houses'))[0]!.metrics).toBeNull();
  });

  it('lists the tasks', async () => {
    const res = await pollen(['task', 'list']);
    expect(res.code).toBe(0);
    expect(res.out.split('\n')[0]).toMatch(/^ID\s+STATUS\s+VERSION\s+CLIENTS\s+NAME$/);
    expect(res.out).toMatch(/^houses\s+running\s+0\s+0\s+House prices$/m);
    expect(res.out).toMatch(/^tiny\s+running/m);
    const json = JSON.parse((await pollen(['task', 'list', '--json'])).out) as { id: string }[];
    expect(json.map((t) => t.id).sort()).toEqual(['houses', 'tiny']);
  });

  it("exports a version as tfjs files that load and predict what the coordinator's copy predicts", async () => {
    const res = await pollen(['task', 'export', 'houses', '--out', 'export']);
    expect(res).toMatchObject({ code: 0 });
    expect(res.out).toMatch(
      /^exported task houses version 0 to .*export \(model.json, weights.bin: 84 bytes\)$/,
    );
    // What tfjs' file:// handler does: read model.json, then the files its manifest names next to it.
    const json = JSON.parse(readFileSync(join(dir, 'export', 'model.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const files = new Map([
      ['weights.bin', new Uint8Array(readFileSync(join(dir, 'export', 'weights.bin')))],
    ]);
    modelFromArtifacts(json, files);
    const bytes = files.get('weights.bin')!;
    const loaded = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology as object,
        weightSpecs: (json.weightsManifest as { weights: tf.io.WeightsManifestEntry[] }[])[0]!.weights,
        weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
      }),
    );
    const task = (await coordinator.store.getTask('houses'))!;
    const theirs = await buildModel(task.spec);
    setFlatWeights(theirs, (await coordinator.store.getVersion('houses', 0))!.weights);
    const x = tf.tensor2d([
      [0.1, 0.2, 0.3],
      [1, -1, 0.5],
    ]);
    const ours = (loaded.predict(x) as tf.Tensor).dataSync();
    expect(Array.from(ours)).toEqual(Array.from((theirs.predict(x) as tf.Tensor).dataSync()));
    loaded.dispose();
    theirs.dispose();
    x.dispose();
  });

  it('ends with a distinct exit code for a bad token, a bad spec, a bad command line and no coordinator', async () => {
    const badToken = await pollen(['task', 'create', '--spec', 'houses/task.json'], {
      POLLEN_TOKEN: 'wrong-token-wrong-token',
    });
    expect(badToken.code).toBe(1);
    expect(badToken.err).toMatch(/^pollen: UNAUTHORIZED: operator token not recognised \(give --token/);

    mkdirSync(join(dir, 'bad'), { recursive: true });
    writeFileSync(
      join(dir, 'bad', 'task.json'),
      JSON.stringify({ id: 'bad', training: { epochs: 0, batchSize: 8, learningRate: 0.1 } }),
    );
    const badSpec = await pollen(['task', 'create', '--spec', 'bad/task.json']);
    expect(badSpec).toMatchObject({ code: 1 });
    expect(badSpec.err).toMatch(
      /^pollen: INVALID_TASK: "training.epochs" expected integer in \[1, 100\], got 0/,
    );

    writeFileSync(
      join(dir, 'bad', 'model.json'),
      JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['w.bin'], weights: [] }] }),
    );
    writeFileSync(
      join(dir, 'bad', 'task.json'),
      JSON.stringify({ id: 'bad', model: { path: 'model.json' } }),
    );
    const badModel = await pollen(['task', 'create', '--spec', 'bad/task.json']);
    expect(badModel).toMatchObject({ code: 1 });
    expect(badModel.err).toMatch(/^pollen: INVALID_MODEL: cannot read weight file .*w.bin/);

    expect((await pollen(['task', 'create'])).code).toBe(2);
    expect((await pollen(['task', 'frobnicate'])).err).toMatch(/unknown command "task frobnicate"/);
    expect((await pollen(['task', 'list', '--colour'])).code).toBe(2);
    expect((await pollen(['task', 'export', 'houses', '--out', 'x', '--version', '-1'])).code).toBe(2);
    const missing = await pollen(['task', 'create', '--spec', 'nowhere.json']);
    expect(missing.err).toMatch(/INVALID_TASK: cannot read task file/);

    // The token file `npm start` writes, when no token is given.
    writeFileSync(join(dir, 'operator-token'), `${TEST_OPERATOR_TOKEN}\n`);
    const fromFile = await pollen(['task', 'export', 'houses', '--out', 'again'], { POLLEN_DATA_DIR: dir });
    expect(fromFile.code).toBe(0);

    const closed = await runCli(['task', 'list', '--url', 'http://127.0.0.1:1'], {
      out: () => {},
      err: () => {},
      env: {},
      cwd: dir,
    });
    expect(closed).toBe(3);
  });

  it('runs as `pnpm pollen` (the root script) from the directory it was started in', async () => {
    const launcher = fileURLToPath(new URL('../../bin/pollen.mjs', import.meta.url));
    // Not spawnSync: the coordinator it talks to runs in this process.
    const child = spawn(process.execPath, [launcher, 'task', 'list', '--url', coordinator.url], {
      env: { ...process.env, INIT_CWD: dir },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const status = await new Promise<number | null>((r) => child.on('close', r));
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout).toMatch(/^houses\s+running/m);
  });
});
