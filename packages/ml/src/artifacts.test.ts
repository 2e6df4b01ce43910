import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { MODEL_LIMITS, manifestPaths, modelFromArtifacts, withoutInitialWeights } from './artifacts.ts';
import { initTf } from './backend.ts';
import { buildModel } from './model.ts';
import { getFlatWeights } from './weights.ts';

beforeAll(async () => {
  await initTf();
});

const TASK = {
  input: { shape: [3], dtype: 'float32' as const },
  target: { kind: 'regression' as const, shape: [1] },
};

/** A model saved by tfjs as `tf.io.browserFiles`/`file://` save it: model.json and shards. */
async function saved(): Promise<{
  json: Record<string, unknown>;
  files: Map<string, Uint8Array>;
  model: tf.LayersModel;
}> {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ name: 'h', units: 4, inputShape: [3], activation: 'relu' }),
      tf.layers.dense({ name: 'out', units: 1 }),
    ],
  });
  let artifacts: tf.io.ModelArtifacts | null = null;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const a = artifacts! as tf.io.ModelArtifacts;
  const bytes = new Uint8Array(a.weightData as ArrayBuffer);
  // Two shards, split at an arbitrary byte (tfjs' converter splits at 4 MB regardless of entries).
  const files = new Map([
    ['group1-shard1of2.bin', bytes.slice(0, 10)],
    ['group1-shard2of2.bin', bytes.slice(10)],
  ]);
  const json = {
    format: 'layers-model',
    generatedBy: 'TensorFlow.js tfjs-layers',
    convertedBy: null,
    modelTopology: a.modelTopology,
    weightsManifest: [{ paths: ['./group1-shard1of2.bin', 'group1-shard2of2.bin'], weights: a.weightSpecs }],
  };
  return { json, files, model };
}

function refusal(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return `${(err as { code?: string }).code}: ${(err as Error).message}`;
  }
}

describe('a model from tfjs artifacts', () => {
  it('gives the topology and the weights tfjs saved, which build the same model', async () => {
    const { json, files, model } = await saved();
    expect(manifestPaths(json)).toEqual(['group1-shard1of2.bin', 'group1-shard2of2.bin']);
    const spec = modelFromArtifacts(json, files);
    expect(spec.weights!.specs.map((s) => s.name)).toEqual(['h/kernel', 'h/bias', 'out/kernel', 'out/bias']);
    const built = await buildModel({ ...TASK, model: spec });
    expect(await getFlatWeights(built)).toEqual(await getFlatWeights(model));
    expect(withoutInitialWeights(spec)).toEqual({ topology: spec.topology });
    expect(modelFromArtifacts({ modelTopology: spec.topology }, new Map())).toEqual({
      topology: spec.topology,
    });
    built.dispose();
    model.dispose();
  });

  it('refuses each bad model.json field and weight file by name', async () => {
    const { json, files, model } = await saved();
    model.dispose();
    const group = (json.weightsManifest as { paths: string[]; weights: Record<string, unknown>[] }[])[0]!;
    const withGroup = (over: Record<string, unknown>): Record<string, unknown> => ({
      ...json,
      weightsManifest: [{ ...group, ...over }],
    });
    const entry = (i: number, over: Record<string, unknown>): Record<string, unknown> =>
      withGroup({ weights: group.weights.map((w, j) => (j === i ? { ...w, ...over } : w)) });
    const cases: [string, () => unknown, RegExp][] = [
      [
        'not an object',
        () => modelFromArtifacts([1], files),
        /^INVALID_MODEL: "model.json" expected a JSON object/,
      ],
      [
        'an unknown field',
        () => modelFromArtifacts({ ...json, extra: 1 }, files),
        /"model.json.extra" is not a field/,
      ],
      [
        'no topology',
        () => modelFromArtifacts({ ...json, modelTopology: undefined }, files),
        /"model.json.modelTopology" expected the Layers topology/,
      ],
      [
        'a bad dtype',
        () => modelFromArtifacts(entry(1, { dtype: 'float16' }), files),
        /^INVALID_MODEL: "model.json.weightsManifest\[0\].weights\[1\].dtype" expected one of float32, int32/,
      ],
      [
        'quantized weights',
        () => modelFromArtifacts(entry(0, { quantization: { dtype: 'uint8' } }), files),
        /"model.json.weightsManifest\[0\].weights\[0\].quantization" expected no such field/,
      ],
      [
        'a shape that disagrees with the bytes',
        () => modelFromArtifacts(entry(0, { shape: [3, 5] }), files),
        /^INVALID_MODEL: weight files "group1-shard1of2.bin", "group1-shard2of2.bin" hold 84 bytes; .* take 96/,
      ],
      [
        'a missing weight file',
        () => modelFromArtifacts(json, new Map([...files].slice(0, 1))),
        /"model.json.weightsManifest\[0\].paths\[1\]" names weight file "group1-shard2of2.bin", which is missing/,
      ],
      [
        'a file the manifest does not name',
        () => modelFromArtifacts(json, new Map([...files, ['other.bin', new Uint8Array(4)]])),
        /^INVALID_MODEL: weight file "other.bin" is not named by model.json/,
      ],
      [
        'a path named twice',
        () =>
          modelFromArtifacts(withGroup({ paths: ['group1-shard1of2.bin', './group1-shard1of2.bin'] }), files),
        /"model.json.weightsManifest\[0\].paths\[1\]" names "group1-shard1of2.bin" a second time/,
      ],
      [
        'a path outside the folder',
        () => modelFromArtifacts(withGroup({ paths: ['../secret.bin'] }), files),
        /"model.json.weightsManifest\[0\].paths\[0\]" "..\/secret.bin" is not a file name next to model.json/,
      ],
      [
        'an unknown group field',
        () => modelFromArtifacts(withGroup({ group: 'model' }), files),
        /"model.json.weightsManifest\[0\].group" is not a field of a weight group/,
      ],
      [
        'weights past the limit',
        () => modelFromArtifacts(entry(0, { shape: [4096, 4097] }), files),
        /^PAYLOAD_TOO_LARGE: "model.json.weightsManifest\[0\].weights\[0\]" takes the model past 67108864 bytes/,
      ],
      [
        'too many files',
        () =>
          modelFromArtifacts(
            withGroup({ paths: Array.from({ length: MODEL_LIMITS.weightFiles + 1 }, (_, i) => `w${i}.bin`) }),
            files,
          ),
        /"model.json.weightsManifest" names more than 256 weight files/,
      ],
    ];
    for (const [name, fn, message] of cases) expect(refusal(fn), name).toMatch(message);
  });
});
