import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTf } from './backend.ts';
import { nextCharTransformer } from './next-char-transformer.ts';
import { getRoundVector, type Trainable, trainableModel } from './trainable.ts';
import { type SavedModel, trainedModel } from './trained-export.ts';

// The two exports of a fine-tuned transformer (docs/design.md, "Fine-tuning"): merged, a plain
// tfjs model, and with its adapters apart; both give the same next-character probabilities.

beforeAll(async () => {
  await initTf();
});

const lora: Trainable = { kind: 'lora', rank: 2, alpha: 4, layers: ['block0_q', 'block0_v', 'block0_ffn1'] };

/** A small transformer, seeded: built twice, the same weights. */
const SIZE = { context: 8, alphabetSize: 10, width: 16, heads: 2, blocks: 1, ffn: 32, seed: 3 };

function load(saved: SavedModel): Promise<tf.LayersModel> {
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: saved.modelTopology,
      weightSpecs: saved.weightSpecs,
      weightData: saved.weightData.slice().buffer,
    }),
  );
}

describe('a fine-tuned next-char transformer', () => {
  it('exports merged and with its adapters apart, both giving the adapted probabilities to 1e-4', async () => {
    const base = nextCharTransformer(SIZE);
    const model = await trainableModel(base, lora);
    base.dispose();
    // Adapters as training leaves them: B no longer zero, so the adapted model differs from the base.
    const vector = await getRoundVector(model, lora);
    const trained = vector.map((_, i) => 0.2 * Math.sin(1 + i));
    const merged = await trainedModel(model, lora, trained);
    const apart = await trainedModel(model, lora, trained, 'adapters');
    expect(JSON.stringify(merged.modelTopology)).not.toContain('Lora');
    expect(JSON.stringify(apart.modelTopology)).toContain('PollenLoraDense');
    const ids = tf.tensor2d(
      Array.from({ length: 4 * 8 }, (_, i) => (i * 7) % 10),
      [4, 8],
    );
    const want = (model.predict(ids) as tf.Tensor).dataSync();
    for (const saved of [merged, apart]) {
      const loaded = await load(saved);
      const got = (loaded.predict(ids) as tf.Tensor).dataSync();
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
      expect(worst).toBeLessThan(1e-4);
      loaded.dispose();
    }
    const pretrained = nextCharTransformer(SIZE);
    const before = (pretrained.predict(ids) as tf.Tensor).dataSync();
    expect(Math.max(...want.map((v, i) => Math.abs(v - before[i]!)))).toBeGreaterThan(1e-3);
    await expect(
      trainedModel(
        pretrained,
        { kind: 'all' },
        await getRoundVector(pretrained, { kind: 'all' }),
        'adapters',
      ),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    pretrained.dispose();
    model.dispose();
    ids.dispose();
  });
});
