import { type BrowserContext, expect, type Page, test } from '@playwright/test';
import * as tf from '@tensorflow/tfjs';
import {
  api,
  evaluatedRounds,
  OPERATOR_TOKEN,
  untilCompleted,
  withCoordinator,
  withDashboard,
} from './coordinator.ts';

// A task that is not MNIST, end to end: a float-feature regression model built and saved by
// tfjs here, created through the REST API with its topology and initial weights inline, held-out
// data uploaded as CSV, three tabs whose host page adds its own examples through the SDK, and
// the exported model loaded back with tf.loadLayersModel.

const TASK_ID = 'houses';
const FEATURES = 4;
const ROUNDS = 3;

interface Example {
  x: number[];
  y: number[];
}

/** What the SDK example page exposes as `window.pollen` (apps/web-client/src/sdk-example/main.ts). */
interface Evaluated {
  evaluationId: number;
  modelVersion: number;
  heldOut: { metrics: Record<string, number>; numExamples: number } | null;
}

interface HostWindow {
  pollen: {
    addExamples(rows: Example[], source: 'host'): Promise<{ accepted: number; refused: unknown[] }>;
    on(event: 'evaluated', listener: (e: Evaluated) => void): () => void;
  };
  /** What this tab reported in evaluation rounds, kept by the test. */
  evaluated?: Evaluated[];
}

interface Version {
  version: number;
  metrics: Record<string, number> | null;
}

/** mulberry32: a seeded generator, so the data is the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** y = 2 x0 - x1 + x2 x3 + 0.5 sin(3 x0), features uniform in [-1, 1], a little noise. */
function examples(count: number, seed: number): Example[] {
  const next = rng(seed);
  return Array.from({ length: count }, () => {
    const x = Array.from({ length: FEATURES }, () => Number((2 * next() - 1).toFixed(4)));
    const y = 2 * x[0]! - x[1]! + x[2]! * x[3]! + 0.5 * Math.sin(3 * x[0]!) + 0.05 * (next() - 0.5);
    return { x, y: [Number(y.toFixed(4))] };
  });
}

/** A 4-16-1 MLP as an operator would make it with tfjs, and its model.json parts as tfjs saves them. */
async function savedModel(): Promise<{ model: tf.LayersModel; artifacts: tf.io.ModelArtifacts }> {
  await tf.setBackend('cpu');
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [FEATURES], units: 16, activation: 'relu', name: 'hidden' }),
      tf.layers.dense({ units: 1, name: 'price' }),
    ],
  });
  let artifacts: tf.io.ModelArtifacts | null = null;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return { model, artifacts: artifacts! };
}

function weightBytes(data: tf.io.WeightData): Buffer {
  return Buffer.concat((Array.isArray(data) ? data : [data]).map((b) => Buffer.from(b)));
}

async function operatorFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(url, {
    ...init,
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, ...init.headers },
  });
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${res.status} ${await res.text()}`);
  return res;
}

/** The held-out rows as a data file (docs/tasks.md#data-files-held-out-and-simulation-data). */
function csvOf(rows: readonly Example[]): string {
  const header = [...Array.from({ length: FEATURES }, (_, i) => `x${i}`), 'y'].join(',');
  return `${[header, ...rows.map((r) => [...r.x, r.y[0]].join(','))].join('\n')}\n`;
}

/** The regression task, created through the REST API with the model saved by tfjs. */
async function createTask(
  url: string,
  id: string,
  artifacts: tf.io.ModelArtifacts,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await operatorFetch(`${url}/api/tasks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      id,
      name: 'House prices (synthetic)',
      model: {
        topology: artifacts.modelTopology,
        weights: {
          specs: artifacts.weightSpecs,
          data: weightBytes(artifacts.weightData!).toString('base64'),
        },
      },
      input: { shape: [FEATURES], dtype: 'float32' },
      target: { kind: 'regression', shape: [1] },
      loss: 'meanSquaredError',
      metrics: ['mse', 'mae'],
      training: { epochs: 5, batchSize: 16, learningRate: 0.02, optimizer: 'adam' },
      rounds: {
        cohortSize: 3,
        minReports: 3,
        minClients: 3,
        overSelection: 1,
        deadlineMs: 30_000,
        maxRounds: ROUNDS,
      },
      ...extra,
    }),
  });
}

/** One device: the SDK example page, which adds this device's own examples and contributes. */
async function openHost(
  context: BrowserContext,
  url: string,
  own: Example[],
  taskId = TASK_ID,
): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
  await page.goto(`${url}/sdk-example.html?task=${taskId}&backend=wasm`);
  await page.locator('body[data-ready="true"]').waitFor();
  const added = await page.evaluate(async (rows) => {
    const result = await (window as unknown as HostWindow).pollen.addExamples(rows, 'host');
    return { accepted: result.accepted, refused: result.refused.length };
  }, own);
  expect(added).toEqual({ accepted: own.length, refused: 0 });
  // Each evaluation round this tab answers, with its own report, for the test to sum.
  await page.evaluate(() => {
    const w = window as unknown as HostWindow;
    w.evaluated = [];
    w.pollen.on('evaluated', (e) => w.evaluated!.push(e));
  });
  await page.locator('#agree').check();
  await page.locator('#contribute').click();
  return page;
}

test('a regression model saved by tfjs trains in three tabs on their own examples, and its export predicts what the coordinator evaluates', async ({
  browser,
}) => {
  const { model, artifacts } = await savedModel();
  const heldOut = examples(200, 99);
  await withCoordinator({}, async (coordinator) => {
    const task = `${coordinator.url}/api/tasks/${TASK_ID}`;
    await createTask(coordinator.url, TASK_ID, artifacts);
    await operatorFetch(`${task}/held-out`, {
      method: 'PUT',
      headers: { 'content-type': 'text/csv' },
      body: csvOf(heldOut),
    });

    const contexts = await Promise.all([0, 1, 2].map(() => browser.newContext()));
    try {
      await Promise.all(contexts.map((c, i) => openHost(c, coordinator.url, examples(120, i + 1))));
      await untilCompleted(coordinator.url, TASK_ID, {
        timeout: 60_000,
      });
    } finally {
      await Promise.all(contexts.map((c) => c.close()));
    }

    // The held-out loss falls over the rounds: the coordinator evaluated every version (metrics
    // attach after each commit, so first wait for the last one's).
    await evaluatedRounds(coordinator.url, TASK_ID);
    const versions = (await api<Version[]>(coordinator.url, `/api/tasks/${TASK_ID}/versions`)).sort(
      (a, b) => a.version - b.version,
    );
    // (Version 0 is scored too when the held-out data came before the coordinator evaluated it.)
    const evaluated = versions.filter((v) => v.metrics !== null);
    expect(evaluated.map((v) => v.version)).toEqual(
      expect.arrayContaining(Array.from({ length: ROUNDS }, (_, i) => i + 1)),
    );
    const losses = evaluated.map((v) => v.metrics!.loss!);
    for (let i = 1; i < losses.length; i++) {
      expect(losses[i], `version ${evaluated[i]!.version}`).toBeLessThan(losses[0]!);
    }
    expect(losses.at(-1)!).toBeLessThan(0.5 * losses[0]!);
    const latest = evaluated.at(-1)!;
    expect(Object.keys(latest.metrics!).sort()).toEqual(['loss', 'mae', 'mse']);

    // The export loads with tf.loadLayersModel through an IO handler that fetches its parts.
    const manifest = (await (await operatorFetch(`${task}/model`)).json()) as {
      modelTopology: object;
      weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
    };
    const group = manifest.weightsManifest[0]!;
    const weightData = await (await operatorFetch(`${task}/${group.paths[0]}`)).arrayBuffer();
    const exported = await tf.loadLayersModel({
      load: async () => ({ modelTopology: manifest.modelTopology, weightSpecs: group.weights, weightData }),
    });
    const xs = tf.tensor2d(heldOut.map((e) => e.x));
    const predicted = (exported.predict(xs) as tf.Tensor).dataSync();
    // Its held-out MSE is the one the coordinator computed for that version from its own copy.
    const mse = heldOut.reduce((s, e, i) => s + (predicted[i]! - e.y[0]!) ** 2, 0) / heldOut.length;
    expect(mse).toBeCloseTo(latest.metrics!.mse!, 4);
    // And the operator's own model, given the latest version's weights, predicts the same.
    const flat = new Float32Array(weightData);
    let at = 0;
    model.setWeights(
      model.weights.map((w) => {
        // A trained model's variables have whole shapes (no batch dimension).
        const shape = w.shape as number[];
        const size = shape.reduce((n, d) => n * d, 1);
        const t = tf.tensor(flat.subarray(at, at + size), shape);
        at += size;
        return t;
      }),
    );
    expect(at).toBe(flat.length);
    const own = (model.predict(xs) as tf.Tensor).dataSync();
    const worst = Math.max(...Array.from(own, (v, i) => Math.abs(v - predicted[i]!)));
    expect(worst).toBeLessThan(1e-5);
  });
});

interface DeviceRound {
  roundId: number;
  status: string;
  metrics: Record<string, number> | null;
  onDevices?: { version: number; clients: number; numExamples: number; metrics: Record<string, number> };
}

interface SecureEvaluation {
  evaluationId: number;
  version: number;
  status: string;
  secure?: boolean;
  selected: number;
  reported: number;
  federatedEvaluation: {
    version: number;
    numExamples: number;
    metrics: Record<string, number>;
    distribution: Record<string, unknown>;
  } | null;
}

interface EvaluationRecord {
  evaluationId: number;
  version: number;
  status: string;
  selected: number;
  reported: number;
  bytesUp: number;
  federatedEvaluation: { version: number; clients: number; metrics: Record<string, number> } | null;
}

test('a task with no held-out data on the coordinator is scored on the devices, in training rounds and evaluation rounds: the dashboard shows their figure and spread', async ({
  browser,
}) => {
  const { artifacts } = await savedModel();
  const id = 'houses-on-devices';
  await withCoordinator({}, async (coordinator) => {
    // Evaluation rounds score every version on the three devices' held-out houses, metrics only.
    const federated = { every: 1, cohortSize: 3, minReports: 3, deadlineMs: 30_000 };
    // Each device holds out its newest quarter (40 of its 160 houses), 5 more trained on by neither.
    await createTask(coordinator.url, id, artifacts, {
      evaluation: { heldOutFraction: 0.25, heldOutSplit: { kind: 'newest', gap: 5 }, federated },
    });
    // Non-IID devices: each holds houses from its own part of the feature space.
    const own = (i: number): Example[] =>
      examples(160, i + 11).map((e) => {
        const x = [...e.x];
        x[0] = (x[0]! + 2 * i - 2) / 3;
        return { x, y: [Number((2 * x[0]! - x[1]! + x[2]! * x[3]! + 0.5 * Math.sin(3 * x[0]!)).toFixed(4))] };
      });
    const contexts = await Promise.all([0, 1, 2].map(() => browser.newContext()));
    try {
      await Promise.all(contexts.map((c, i) => openHost(c, coordinator.url, own(i), id)));
      await untilCompleted(coordinator.url, id, {
        timeout: 60_000,
      });
      // The final version is scored once training has freed the devices.
      await expect
        .poll(
          async () =>
            (await api<EvaluationRecord[]>(coordinator.url, `/api/tasks/${id}/evaluations`)).some(
              (e) => e.version === ROUNDS && e.status === 'complete',
            ),
          { timeout: 60_000 },
        )
        .toBe(true);
    } finally {
      await Promise.all(contexts.map((c) => c.close()));
    }
    const evaluations = (
      await api<EvaluationRecord[]>(coordinator.url, `/api/tasks/${id}/evaluations`)
    ).filter((e) => e.status === 'complete');
    for (const e of evaluations) {
      expect(e).toMatchObject({
        selected: 3,
        reported: 3,
        federatedEvaluation: { version: e.version, clients: 3 },
      });
      // Metrics only: three small reports, no weights.
      expect(e.bytesUp).toBeLessThan(3 * 1024);
    }
    const scored = evaluations.map((e) => e.federatedEvaluation!.metrics.mse!);
    console.log(
      `federated mse by version: ${evaluations.map((e, i) => `v${e.version} ${scored[i]!.toFixed(3)}`).join(', ')}`,
    );
    expect(evaluations.at(-1)!.version).toBe(ROUNDS);
    expect(scored.at(-1)!).toBeLessThan(scored[0]!);
    const rounds = (await api<DeviceRound[]>(coordinator.url, `/api/tasks/${id}/rounds`))
      .filter((r) => r.status === 'committed')
      .sort((a, b) => a.roundId - b.roundId);
    expect(rounds).toHaveLength(ROUNDS);
    // No held-out data on the coordinator; every round carries the three devices' own figure,
    // of the version it trained from, and it falls as the model learns.
    for (const [i, r] of rounds.entries()) {
      expect(r.metrics).toBeNull();
      expect(r.onDevices).toMatchObject({ version: i, clients: 3, numExamples: 3 * 40 });
    }
    const mse = rounds.map((r) => r.onDevices!.metrics.mse!);
    // The same held-out split scored by the same model: an evaluation round of a version agrees
    // with what the training round that started from it heard.
    for (const e of evaluations.filter((e) => e.version < ROUNDS)) {
      expect(e.federatedEvaluation!.metrics.mse!).toBeCloseTo(mse[e.version]!, 5);
    }
    console.log(`mse on the devices' held-out houses, by version: ${mse.map((m) => m.toFixed(3)).join(' ')}`);
    expect(mse.at(-1)!).toBeLessThan(0.5 * mse[0]!);

    await withDashboard(browser, coordinator.url, id, async (dashboard) => {
      await expect(dashboard.locator('#tile-heldout')).toContainText(
        `across 3 devices (federated evaluation of version ${ROUNDS})`,
      );
      await expect(dashboard.locator('#federated-mse-chart')).toHaveAttribute(
        'data-points',
        String(evaluations.length),
      );
      await expect(dashboard.locator('#devices-mse-chart')).toHaveAttribute('data-points', String(ROUNDS));
      await expect(dashboard.locator('#heldout-mse-chart')).toHaveAttribute('data-held-out', 'none');
    });
  });
});

test('with secure aggregation, evaluation rounds give the coordinator only totals, equal to the totals of what the tabs reported', async ({
  browser,
}) => {
  const { artifacts } = await savedModel();
  const id = 'houses-secure';
  await withCoordinator({}, async (coordinator) => {
    const federated = { every: 2, cohortSize: 3, minReports: 3, deadlineMs: 30_000 };
    await createTask(coordinator.url, id, artifacts, {
      secureAggregation: {},
      evaluation: { heldOutFraction: 0.25, federated },
      rounds: {
        cohortSize: 3,
        minReports: 3,
        minClients: 3,
        overSelection: 1,
        deadlineMs: 30_000,
        maxRounds: 2,
      },
    });
    const contexts = await Promise.all([0, 1, 2].map(() => browser.newContext()));
    let reported: Evaluated[] = [];
    try {
      const pages = await Promise.all(
        contexts.map((c, i) => openHost(c, coordinator.url, examples(160, i + 21), id)),
      );
      await expect
        .poll(
          async () =>
            (await api<EvaluationRecord[]>(coordinator.url, `/api/tasks/${id}/evaluations`)).filter(
              (e) => e.status === 'complete',
            ).length,
          { timeout: 90_000 },
        )
        .toBe(2);
      reported = (
        await Promise.all(pages.map((p) => p.evaluate(() => (window as unknown as HostWindow).evaluated!)))
      ).flat();
    } finally {
      await Promise.all(contexts.map((c) => c.close()));
    }
    const evaluations = (
      await api<SecureEvaluation[]>(coordinator.url, `/api/tasks/${id}/evaluations`)
    ).filter((e) => e.status === 'complete');
    expect(evaluations.map((e) => e.version)).toEqual([0, 2]);
    for (const e of evaluations) {
      // Only totals: means and counts, no device's figure, no spread.
      expect(e).toMatchObject({ secure: true, selected: 3, reported: 3 });
      expect(e.federatedEvaluation!.distribution).toEqual({});
      const own = reported.filter((r) => r.evaluationId === e.evaluationId && r.heldOut);
      expect(own).toHaveLength(3);
      const examplesHeld = own.reduce((n, r) => n + r.heldOut!.numExamples, 0);
      expect(e.federatedEvaluation!.numExamples).toBe(examplesHeld);
      for (const name of ['loss', 'mse', 'mae']) {
        const plain =
          own.reduce((s, r) => s + r.heldOut!.metrics[name]! * r.heldOut!.numExamples, 0) / examplesHeld;
        expect(e.federatedEvaluation!.metrics[name]!, `${name} of version ${e.version}`).toBeCloseTo(
          plain,
          3,
        );
      }
    }
    const [first, last] = evaluations.map((e) => e.federatedEvaluation!.metrics.mse!);
    console.log(`secure federated mse: version 0 ${first!.toFixed(3)}, version 2 ${last!.toFixed(3)}`);
    expect(last!).toBeLessThan(first!);
    // Training rounds under secure aggregation ask no device for its own figure.
    const rounds = await api<DeviceRound[]>(coordinator.url, `/api/tasks/${id}/rounds`);
    for (const r of rounds) expect(r.onDevices).toBeUndefined();
    // The dashboard draws the totals' mean by version.
    await withDashboard(browser, coordinator.url, id, async (dashboard) => {
      await expect(dashboard.locator('#federated-mse-chart')).toHaveAttribute('data-points', '2');
      await expect(dashboard.locator('#tile-heldout')).toContainText('federated evaluation of version 2');
    });
  });
});
