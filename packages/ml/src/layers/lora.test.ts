import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTf } from '../backend.ts';
import { pretrainedMlp as base } from './fixtures.ts';
import { LoraDense, mergeLora, withLora } from './lora.ts';

beforeAll(async () => {
  await initTf();
});

const inputs = (): tf.Tensor2D => tf.randomNormal([16, 6], 0, 1, 'float32', 4) as tf.Tensor2D;
const values = (t: tf.Tensor | tf.Tensor[]): Float32Array => (t as tf.Tensor).dataSync() as Float32Array;

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A layer's weights by their own names (kernel, bias, lora_A, lora_B). */
function named(layer: tf.layers.Layer): Record<string, Float32Array> {
  return Object.fromEntries(
    layer.weights.map((w) => [w.name.split('/').at(-1)!.replace(/_\d+$/, ''), values(w.read())]),
  );
}

/** Give the adapters values, as training would. */
function perturb(model: tf.LayersModel): void {
  for (const layer of model.layers) {
    if (!(layer instanceof LoraDense)) continue;
    const b = layer.weights.find((w) => w.name.includes('lora_B'))!;
    b.write(tf.randomNormal(b.shape as number[], 0, 0.3, 'float32', 5));
  }
}

describe('LoRA adapters', () => {
  it('start as the base model, and train only A and B: the base stays bit-identical', async () => {
    const pretrained = base();
    const adapted = await withLora(pretrained, { rank: 2, alpha: 4, layers: ['hidden', 'head'] });
    const x = inputs();
    expect(maxDiff(values(adapted.predict(x)), values(pretrained.predict(x)))).toBeLessThan(1e-6);
    // tfjs numbers a name taken before in the process (lora_A_1): the suffix is not the point.
    expect(adapted.trainableWeights.map((w) => w.name.split('/').at(-1)!.replace(/_\d+$/, ''))).toEqual([
      'lora_A',
      'lora_B',
      'lora_A',
      'lora_B',
    ]);
    const before = adapted.layers.map(named);
    adapted.compile({ optimizer: tf.train.sgd(0.5), loss: 'categoricalCrossentropy' });
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0], 'int32'), 3);
    await adapted.fit(x, y, { epochs: 3, batchSize: 8, verbose: 0 });
    adapted.layers.forEach((l, i) => {
      const now = named(l);
      expect(Object.keys(now).sort()).toEqual(['bias', 'kernel', 'lora_A', 'lora_B']);
      expect(Array.from(now.kernel!)).toEqual(Array.from(before[i]!.kernel!));
      expect(Array.from(now.bias!)).toEqual(Array.from(before[i]!.bias!));
      // B moved from zero: the gradient reached the adapters.
      expect(maxDiff(now.lora_B!, before[i]!.lora_B!)).toBeGreaterThan(0);
    });
  });

  it('adapts a projection applied at every position of a sequence as a Dense layer does', async () => {
    const m = tf.sequential();
    m.add(
      tf.layers.dense({
        units: 5,
        inputShape: [4, 6],
        name: 'proj',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }),
      }),
    );
    const adapted = await withLora(m, { rank: 2, alpha: 2, layers: ['proj'] });
    perturb(adapted);
    const x = tf.randomNormal([3, 4, 6], 0, 1, 'float32', 7);
    const out = adapted.predict(x) as tf.Tensor;
    expect(out.shape).toEqual([3, 4, 5]);
    const merged = await mergeLora(adapted);
    expect(maxDiff(values(merged.predict(x)), values(out))).toBeLessThan(1e-5);
  });

  it('refuses a layer that is not Dense, or a name the model lacks', async () => {
    await expect(withLora(base(), { rank: 2, alpha: 2, layers: ['nope'] })).rejects.toThrow(
      /no Dense layer named nope/,
    );
    expect(() => new LoraDense({ units: 3, rank: 0, alpha: 1 })).toThrow(/"rank" expected/);
    expect(() => new LoraDense({ units: 3, rank: 2, alpha: 0 })).toThrow(/"alpha" expected/);
    expect(() => new LoraDense({ units: 3, rank: 2, alpha: 1, activation: 'nope' })).toThrow(
      /"activation" expected/,
    );
  });

  it('merges into a plain Dense model that tf.loadLayersModel reads, with the same outputs', async () => {
    const adapted = await withLora(base(), { rank: 2, alpha: 4, layers: ['hidden', 'head'] });
    perturb(adapted);
    const x = inputs();
    const expected = values(adapted.predict(x));
    const merged = await mergeLora(adapted);
    expect(merged.layers.map((l) => l.getClassName())).toEqual(['Dense', 'Dense']);
    expect(maxDiff(values(merged.predict(x)), expected)).toBeLessThan(1e-5);
    // Saved and loaded as plain tfjs artifacts: no Pollen class in the topology.
    let saved: tf.io.ModelArtifacts | null = null;
    await merged.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    expect(JSON.stringify(saved!.modelTopology)).not.toContain('Pollen');
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
    expect(maxDiff(values(loaded.predict(x)), expected)).toBeLessThan(1e-4);
  });

  it('keeps the adapters separate in the unmerged export, which loads back with the layer', async () => {
    const adapted = await withLora(base(), { rank: 3, alpha: 3, layers: ['head'] });
    perturb(adapted);
    const x = inputs();
    let saved: tf.io.ModelArtifacts | null = null;
    await adapted.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    expect(JSON.stringify(saved!.modelTopology)).toContain(LoraDense.className);
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
    expect(maxDiff(values(loaded.predict(x)), values(adapted.predict(x)))).toBeLessThan(1e-6);
    const head = loaded.layers[1] as LoraDense;
    expect([head.rank, head.alpha, head.useBias]).toEqual([3, 3, true]);
  });
});
