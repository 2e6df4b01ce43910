import { createHash } from 'node:crypto';
import { decodeDense } from '@pollen/compression';
import {
  addGaussianNoise,
  clipToNorm,
  hashSeed,
  type RoundStartMessage,
  seededRng,
  specSize,
  type TaskSpec,
} from '@pollen/fl-core';
import {
  buildModel,
  buildTrainingModel,
  bytesToBase64,
  getFlatWeights,
  initTf,
  setFlatWeights,
  setRoundVector,
  type Trainable,
  weightSpecOf,
  withoutInitialWeights,
} from '@pollen/ml';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { NodeContributor, OPERATOR_HEADERS, type TestCoordinator, waitFor } from '../testing/harness.ts';
import { testSession } from '../testing/session.ts';

// Fine-tuning (docs/design.md): a round's vector is only what the task trains; the frozen base
// is served once, named by its checksum in every round start; the export is a plain tfjs model.

const session = testSession();
const trainable: Trainable = { kind: 'lora', rank: 2, alpha: 4, layers: ['head'] };

/** A small "pretrained" model: 6 -> 8 (relu) -> 3 (softmax), seeded, with its weights. */
async function pretrained() {
  const m = tf.sequential({
    layers: [
      tf.layers.dense({
        name: 'hidden',
        units: 8,
        activation: 'relu',
        inputShape: [6],
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
        biasInitializer: tf.initializers.randomNormal({ seed: 2, stddev: 0.1 }),
      }),
      tf.layers.dense({
        name: 'head',
        units: 3,
        activation: 'softmax',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }),
        biasInitializer: tf.initializers.randomNormal({ seed: 4, stddev: 0.1 }),
      }),
    ],
  });
  const weights = await getFlatWeights(m);
  const model = {
    topology: m.toJSON(null, false) as unknown as Record<string, unknown>,
    weights: {
      specs: weightSpecOf(m).map((w) => ({ name: w.name, shape: [...w.shape], dtype: 'float32' as const })),
      data: bytesToBase64(new Uint8Array(weights.buffer)),
    },
  };
  m.dispose();
  return { model, weights };
}

/** The tiny task that fine-tunes `pretrained()` with LoRA on `head`, `extra`'s fields over it. */
async function loraTask(extra: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { model } = await pretrained();
  return {
    model,
    input: { shape: [6], dtype: 'float32' },
    target: { kind: 'class', numClasses: 3 },
    training: { epochs: 1, batchSize: 4, learningRate: 0.1, trainable },
    ...extra,
  };
}

beforeAll(async () => {
  await initTf();
});

describe('a task that fine-tunes LoRA adapters', () => {
  it('sends and takes only the adapters, serves the frozen base once, and exports a merged tfjs model', async () => {
    const { weights } = await pretrained();
    const coordinator = await session.start(
      await loraTask({
        rounds: {
          cohortSize: 2,
          minReports: 2,
          minClients: 2,
          overSelection: 1,
          deadlineMs: 30_000,
          maxRounds: 1,
        },
      }),
    );
    const task = (await coordinator.store.getTask('tiny'))!;
    const adapters = 2 * (8 + 3);
    // The stored layout is the round's: A and B of `head`; the spec keeps the pretrained weights.
    expect(specSize(task.weightSpec)).toBe(adapters);
    expect(task.weightSpec.map((w) => w.name)).toEqual(['head/lora_A', 'head/lora_B']);
    // The public spec does not carry them.
    const detail = await fetch(`${coordinator.url}/api/tasks/tiny`).then(
      (r) => r.json() as Promise<{ spec: TaskSpec }>,
    );
    expect(detail.spec.model).not.toHaveProperty('weights');
    expect(detail.spec.training.trainable).toEqual(trainable);

    const [a, b] = ['client-ft-a', 'client-ft-b'].map((id) => {
      const c = new NodeContributor(coordinator.url, id);
      session.clients.push(c);
      return c;
    }) as [NodeContributor, NodeContributor];
    const started = a.nextRound();
    expect((await a.hello('tiny', 10)).ok).toBe(true);
    expect((await b.hello('tiny', 10)).ok).toBe(true);
    const msg = await started;
    const global = decodeDense(new Uint8Array(msg.weights as Uint8Array)).vector;
    expect(global.length).toBe(adapters);
    expect(msg.training.trainable).toEqual(trainable);

    // The base: the pretrained weights, its checksum the one the round start names.
    const res = await fetch(`${coordinator.url}/api/tasks/tiny/base`);
    expect(res.status).toBe(200);
    const frame = new Uint8Array(await res.arrayBuffer());
    const checksum = createHash('sha256').update(frame).digest('hex');
    expect(msg.base).toEqual({ checksum, bytes: frame.byteLength });
    expect(res.headers.get('x-pollen-base-checksum')).toBe(checksum);
    expect(res.headers.get('etag')).toBe(`"${checksum}"`);
    expect(decodeDense(frame).vector).toEqual(weights);

    // An update of the adapters' length commits; another length is refused.
    const code = async (delta: Float32Array): Promise<string> => {
      const ack = await a.send(msg, delta);
      return ack.ok ? 'ok' : ack.code;
    };
    expect(await code(new Float32Array(adapters - 1))).toBe('SHAPE_MISMATCH');
    // The upload bound is the round layout's: a whole model's update is too large before decoding.
    expect(await code(new Float32Array(adapters + 83))).toBe('PAYLOAD_TOO_LARGE');
    const delta = Float32Array.from({ length: adapters }, (_, i) => 0.01 * Math.sin(i + 1));
    expect((await a.send(msg, delta)).ok).toBe(true);
    expect((await b.send(msg, delta)).ok).toBe(true);
    await waitFor(async () =>
      (await coordinator.store.listRounds('tiny')).find((r) => r.status === 'committed'),
    );
    const version = (await coordinator.store.getVersion('tiny', 1))!;
    expect(version.weights.length).toBe(adapters);

    // The export: a plain Dense model (adapters merged) that computes what base + adapters do.
    // tfjs appends the model URL's query to the weights' paths: the current version, by default.
    const url = `${coordinator.url}/api/tasks/tiny/model`;
    const json = (await fetch(url, { headers: OPERATOR_HEADERS }).then((r) => r.json())) as {
      modelTopology: unknown;
    };
    expect(JSON.stringify(json.modelTopology)).not.toContain('Lora');
    const loaded = await tf.loadLayersModel(url, { requestInit: { headers: OPERATOR_HEADERS } });
    const tuned = await buildTrainingModel(task.spec as TaskSpec, trainable);
    setRoundVector(tuned, trainable, version.weights);
    const x = tf.tensor2d(
      Array.from({ length: 4 * 6 }, (_, i) => Math.cos(i)),
      [4, 6],
    );
    const want = (tuned.predict(x) as tf.Tensor).arraySync() as number[][];
    const got = (loaded.predict(x) as tf.Tensor).arraySync() as number[][];
    for (const [i, row] of want.entries()) {
      for (const [j, v] of row.entries()) expect(got[i]![j]).toBeCloseTo(v, 5);
    }
    // What a page tries (GET .../global): the same merged model's weights, in the layout the task
    // names `modelWeightSpec` (its rounds' is `weightSpec`, the adapters).
    const served = (await (await fetch(`${coordinator.url}/api/tasks/tiny`)).json()) as {
      weightSpec: { shape: number[] }[];
      modelWeightSpec: { shape: number[] }[];
    };
    const count = (spec: { shape: number[] }[]) =>
      spec.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
    expect(count(served.weightSpec)).toBe(adapters);
    const tried = new Float32Array(
      await (await fetch(`${coordinator.url}/api/tasks/tiny/global`)).arrayBuffer(),
    );
    expect(tried.length).toBe(count(served.modelWeightSpec));
    const plain = await buildModel({
      ...(task.spec as TaskSpec),
      model: withoutInitialWeights(task.spec.model),
    });
    setFlatWeights(plain, tried);
    const tryOut = (plain.predict(x) as tf.Tensor).arraySync() as number[][];
    for (const [i, row] of want.entries()) {
      for (const [j, v] of row.entries()) expect(tryOut[i]![j]).toBeCloseTo(v, 5);
    }
    plain.dispose();
    // The second export keeps the adapters apart (Pollen's LoRA layer, registered here by
    // @pollen/ml): the same probabilities as the merged one.
    const adapterUrl = `${url}?form=adapters`;
    const adapterJson = (await fetch(adapterUrl, { headers: OPERATOR_HEADERS }).then((r) => r.json())) as {
      modelTopology: unknown;
      weightsManifest: { paths: string[]; weights: { name: string }[] }[];
    };
    expect(JSON.stringify(adapterJson.modelTopology)).toContain('PollenLora');
    expect(adapterJson.weightsManifest[0]!.paths[0]).toBe('model/weights.bin?version=1&form=adapters');
    const separate = await tf.loadLayersModel(adapterUrl, { requestInit: { headers: OPERATOR_HEADERS } });
    const apart = (separate.predict(x) as tf.Tensor).arraySync() as number[][];
    for (const [i, row] of got.entries()) {
      for (const [j, v] of row.entries()) expect(Math.abs(apart[i]![j]! - v)).toBeLessThan(1e-4);
    }
    separate.dispose();
    const bad = await coordinator.app.inject({
      url: '/api/tasks/tiny/model?form=lora',
      headers: OPERATOR_HEADERS,
    });
    expect(bad.statusCode).toBe(400);
    x.dispose();
    loaded.dispose();
    tuned.dispose();

    // What a task trains cannot change: its versions hold that layout.
    const patch = await coordinator.app.inject({
      method: 'PATCH',
      url: '/api/tasks/tiny',
      headers: OPERATOR_HEADERS,
      payload: { training: { trainable: { kind: 'all' } } },
    });
    expect(patch.json()).toMatchObject({
      code: 'INVALID_TASK',
      message: expect.stringMatching(/trainable cannot change/),
    });

    // After a restart the frozen base is rebuilt from the stored spec: the same bytes.
    await coordinator.close();
    const again = await session.start({}, coordinator.dataDir);
    const rebuilt = new Uint8Array(await (await fetch(`${again.url}/api/tasks/tiny/base`)).arrayBuffer());
    expect(createHash('sha256').update(rebuilt).digest('hex')).toBe(checksum);
  });

  it('exports adapters apart only for a LoRA task', async () => {
    const coordinator = await session.start({});
    const res = await coordinator.app.inject({
      url: '/api/tasks/tiny/model?form=adapters',
      headers: OPERATOR_HEADERS,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/trains all/),
    });
  });

  it('refuses a trainable subset of a model without initial weights', async () => {
    await expect(
      session.start({
        training: {
          epochs: 1,
          batchSize: 4,
          learningRate: 0.1,
          trainable: { kind: 'layers', names: ['output'] },
        },
      }),
    ).rejects.toThrow(/initial weights/);
  });
});

describe('secure aggregation and differential privacy on a LoRA task', () => {
  const adapters = 2 * (8 + 3);
  const rounds = (n: number) => ({
    cohortSize: n,
    minReports: n,
    minClients: n,
    overSelection: 1,
    deadlineMs: 20_000,
    maxRounds: 1,
  });
  /** Client i's adapter update: distinct per client and coordinate, inside the fixed-point range. */
  const deltaOf = (i: number) =>
    Float32Array.from({ length: adapters }, (_, j) => 0.05 * Math.sin(1 + i * 7.3 + j * 0.37));

  /** n contributors answering every round with `answer`; the round starts they were sent. */
  async function cohort(
    url: string,
    n: number,
    answer: (i: number, msg: RoundStartMessage) => Float32Array,
  ): Promise<RoundStartMessage[]> {
    const starts: RoundStartMessage[] = [];
    for (let i = 0; i < n; i++) {
      const c = new NodeContributor(url, `lora-secure-${i}`, (_global, msg) => {
        starts.push(msg);
        return answer(i, msg);
      });
      session.clients.push(c);
      expect((await c.hello('tiny', 10)).ok).toBe(true);
    }
    return starts;
  }

  /** Largest |v1 - v0 - expected| over the adapters: the committed step against the expected mean. */
  async function stepError(coordinator: TestCoordinator, expected: Float64Array): Promise<number> {
    const v0 = (await coordinator.store.getVersion('tiny', 0))!.weights;
    const v1 = (await coordinator.store.getVersion('tiny', 1))!.weights;
    expect(v1.length).toBe(adapters);
    let worst = 0;
    for (let j = 0; j < adapters; j++) worst = Math.max(worst, Math.abs(v1[j]! - v0[j]! - expected[j]!));
    return worst;
  }

  const mean = (vectors: Float32Array[]) => {
    const out = new Float64Array(adapters);
    for (const v of vectors) for (let j = 0; j < adapters; j++) out[j] = out[j]! + v[j]! / vectors.length;
    return out;
  };

  it('masks and sums only the adapters: the committed step is the mean of the updates', async () => {
    const coordinator = await session.start(
      await loraTask({ rounds: rounds(3), secureAggregation: { range: 1, stageMs: 15_000 } }),
    );
    const starts = await cohort(coordinator.url, 3, (i) => deltaOf(i));
    const record = await waitFor(async () =>
      (await coordinator.store.listRounds('tiny')).find((r) => r.status !== 'open'),
    );
    expect(record).toMatchObject({ status: 'committed', reported: 3 });
    // Each masked vector holds the adapters and nothing of the frozen base.
    for (const msg of starts) expect(msg.secagg).toMatchObject({ words: adapters });
    // Fixed point at range 1: each client's rounding is at most 2^-24.
    expect(await stepError(coordinator, mean([0, 1, 2].map(deltaOf)))).toBeLessThan(1e-6);
  });

  it('clips and noises the adapters under distributed DP with secure aggregation', async () => {
    const clipNorm = 0.1;
    const coordinator = await session.start(
      await loraTask({
        rounds: rounds(3),
        privacy: { mode: 'distributed', noiseMultiplier: 0.5, clipNorm, delta: 1e-5, epsilonBudget: 50 },
        secureAggregation: { range: 4, stageMs: 15_000 },
      }),
    );
    // The updates' norms (about 0.23) exceed the clip norm: every one is scaled down to it.
    const starts = await cohort(coordinator.url, 3, (i) => deltaOf(i));
    const record = await waitFor(async () =>
      (await coordinator.store.listRounds('tiny')).find((r) => r.status !== 'open'),
    );
    expect(record).toMatchObject({ status: 'committed', reported: 3 });
    const privacy = starts[0]!.privacy!;
    expect(privacy.clipNorm).toBe(clipNorm);
    expect(privacy.noiseStd).toBeGreaterThan(0);
    // What each device masked: its update clipped to the norm, plus noise from its seeded stream
    // (the harness' devices draw from `clientId:roundId`), over the adapters' length only.
    const sent = starts.map((msg, i) => {
      const { clipped, wasClipped } = clipToNorm(deltaOf(i), privacy.clipNorm);
      expect(wasClipped).toBe(true);
      const rng = seededRng(hashSeed(`lora-secure-${i}:${msg.roundId}`));
      return addGaussianNoise(clipped, privacy.noiseStd, rng);
    });
    expect(await stepError(coordinator, mean(sent))).toBeLessThan(4 * 4e-6);
    const spent = await fetch(`${coordinator.url}/api/tasks/tiny/privacy`, {
      headers: OPERATOR_HEADERS,
    }).then((r) => r.json() as Promise<{ epsilon: number }>);
    expect(spent.epsilon).toBeGreaterThan(0);
  });
});
