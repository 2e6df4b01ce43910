import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTf } from './backend.ts';
import { LoraDense, mergeLora, withLora } from './layers/lora.ts';
import { type NextCharTransformerOptions, nextCharTransformer } from './next-char-transformer.ts';

beforeAll(async () => {
  await initTf();
});

const SIZE: NextCharTransformerOptions = {
  context: 6,
  alphabetSize: 11,
  width: 8,
  heads: 2,
  blocks: 2,
  ffn: 16,
  seed: 3,
};

const ids = (): tf.Tensor => tf.randomUniform([4, SIZE.context], 0, SIZE.alphabetSize, 'int32', 1).toFloat();
const values = (t: tf.Tensor | tf.Tensor[]): Float32Array => (t as tf.Tensor).dataSync() as Float32Array;

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function saved(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let out: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      out = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return out!;
}

describe('the next-character transformer', () => {
  it('predicts a distribution over the ids, and builds the same weights from the same seed', () => {
    const model = nextCharTransformer(SIZE);
    const names = model.layers.map((l) => l.name);
    expect(names).toEqual(
      expect.arrayContaining(['block0_q', 'block0_k', 'block0_v', 'block0_o', 'block1_q', 'next']),
    );
    const out = model.predict(ids()) as tf.Tensor;
    expect(out.shape).toEqual([4, SIZE.alphabetSize]);
    expect(maxDiff(values(out.sum(1)), new Float32Array(4).fill(1))).toBeLessThan(1e-5);
    const same = nextCharTransformer(SIZE).getWeights();
    for (const [i, w] of model.getWeights().entries()) {
      expect(Array.from(values(w))).toEqual(Array.from(values(same[i]!)));
    }
    const other = nextCharTransformer({ ...SIZE, seed: 4 }).getWeights();
    expect(maxDiff(values(model.getWeights()[1]!), values(other[1]!))).toBeGreaterThan(0);
    expect(() => nextCharTransformer({ ...SIZE, heads: 3 })).toThrow(
      /"width" \(8\) expected a multiple of "heads"/,
    );
  });

  it('predicts at every position with the same weights, the last position as the class model', () => {
    const last = nextCharTransformer(SIZE);
    const every = nextCharTransformer({ ...SIZE, output: 'every' });
    expect(every.countParams()).toBe(last.countParams());
    const x = ids();
    const all = every.predict(x) as tf.Tensor3D;
    expect(all.shape).toEqual([4, SIZE.context, SIZE.alphabetSize]);
    const atLast = all.slice([0, SIZE.context - 1, 0], [4, 1, SIZE.alphabetSize]);
    expect(maxDiff(values(atLast), values(last.predict(x)))).toBeLessThan(1e-6);
  });

  it('passes gradients to every projection', () => {
    const model = nextCharTransformer(SIZE);
    const x = ids();
    const y = tf.oneHot(tf.tensor1d([1, 2, 3, 4], 'int32'), SIZE.alphabetSize);
    const { grads } = tf.variableGrads(() =>
      tf.losses.softmaxCrossEntropy(y, tf.log(model.apply(x) as tf.Tensor)).asScalar(),
    );
    for (const name of ['q', 'k', 'v', 'o', 'ffn1', 'ffn2'].flatMap((p) => [`block0_${p}`, `block1_${p}`])) {
      const kernel = model.getLayer(name).weights[0]!.read() as tf.Variable;
      const grad = grads[kernel.name];
      expect(grad, name).toBeDefined();
      expect(values(grad!.abs().max())[0], name).toBeGreaterThan(0);
    }
  });

  it('round-trips through tfjs save and load, predicting the same', async () => {
    const model = nextCharTransformer(SIZE);
    const artifacts = await saved(model);
    const topology = JSON.stringify(artifacts.modelTopology);
    for (const c of [
      'PollenCausalSelfAttention',
      'PollenPositionEmbedding',
      'PollenLayerNorm',
      'PollenLastPosition',
    ]) {
      expect(topology).toContain(`"class_name":"${c}"`);
    }
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
    const x = ids();
    expect(Array.from(values(loaded.predict(x)))).toEqual(Array.from(values(model.predict(x))));
  });

  it('takes LoRA adapters on its query and value projections, which merge into the same predictions', async () => {
    const layers = ['block0_q', 'block0_v', 'block1_q', 'block1_v'];
    const adapted = await withLora(nextCharTransformer(SIZE), { rank: 2, alpha: 4, layers });
    for (const layer of adapted.layers) {
      if (!(layer instanceof LoraDense)) continue;
      const b = layer.weights.find((w) => w.name.includes('lora_B'))!;
      b.write(tf.randomNormal(b.shape as number[], 0, 0.3, 'float32', 5));
    }
    expect(adapted.layers.filter((l) => l instanceof LoraDense).map((l) => l.name)).toEqual(layers);
    const x = ids();
    const merged = await mergeLora(adapted);
    expect(merged.layers.some((l) => l instanceof LoraDense)).toBe(false);
    expect(maxDiff(values(merged.predict(x)), values(adapted.predict(x)))).toBeLessThan(1e-5);
  });
});
