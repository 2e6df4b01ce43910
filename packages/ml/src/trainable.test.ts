import type * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTf } from './backend.ts';
import { bytesToBase64 } from './base64.ts';
import { heldOutReport } from './evaluate.ts';
import { pretrainedMlp as pretrained } from './layers/fixtures.ts';
import { arraySource } from './source.ts';
import { type TrainTask, trainLocal } from './train.ts';
import {
  buildTrainingModel,
  frozenVariables,
  readVector,
  roundVariables,
  type Trainable,
  trainableModel,
  writeVector,
} from './trainable.ts';
import { getFlatWeights, weightSpecOf } from './weights.ts';

// Fine-tuning's trainable subsets (docs/design.md): a round's vector holds only what the task
// trains, local training moves only that, and the frozen base stays bit-identical.

const TASK: TrainTask = {
  input: { shape: [6], dtype: 'float32' },
  target: { kind: 'class', numClasses: 3 },
  loss: 'sparseCategoricalCrossentropy',
  metrics: ['accuracy'],
};

beforeAll(async () => {
  await initTf();
});

function examples(n = 48) {
  const x = new Float32Array(n * 6);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 3;
    for (let j = 0; j < 6; j++) x[i * 6 + j] = (j % 3 === y[i] ? 1 : -0.5) + 0.1 * Math.sin(i + j);
  }
  return arraySource(TASK, { count: n, x, y });
}

const size = (variables: readonly tf.LayerVariable[]): number =>
  variables.reduce((n, w) => n + w.shape.reduce<number>((a, b) => a * (b ?? 1), 1), 0);

async function trainOnce(trainable: Trainable) {
  const model = await trainableModel(pretrained(), trainable);
  const round = roundVariables(model, trainable);
  const frozen = frozenVariables(model, trainable);
  const global = await readVector(round);
  const base = await readVector(frozen);
  const training = { epochs: 3, batchSize: 16, learningRate: 0.5, optimizer: 'sgd' as const };
  const result = await trainLocal(model, examples(), global, training, TASK, undefined, { trainable });
  const after = await readVector(frozen);
  // Disposed, so its variables' names (hidden/lora_A, ...) are free for the next test file in this process.
  model.dispose();
  return { round, frozen, global, base, result, after };
}

describe('trainable subsets', () => {
  it('trains every weight by default: the round vector is the whole model', async () => {
    const { round, frozen, result } = await trainOnce({ kind: 'all' });
    expect(frozen).toHaveLength(0);
    expect(result.delta.length).toBe(6 * 8 + 8 + 8 * 3 + 3);
    expect(size(round)).toBe(result.delta.length);
  });

  it('trains only the named layers: the update is theirs alone, every other weight bit-identical', async () => {
    const { round, base, after, result } = await trainOnce({ kind: 'layers', names: ['head'] });
    expect(round.map((w) => w.originalName)).toEqual(['head/kernel', 'head/bias']);
    expect(result.delta.length).toBe(8 * 3 + 3);
    expect(result.delta.some((v) => v !== 0)).toBe(true);
    expect(after).toEqual(base);
    await expect(trainableModel(pretrained(), { kind: 'layers', names: ['nope'] })).rejects.toThrow('nope');
  });

  it('with LoRA, trains only A and B: the upload is rank x (in + out) per adapted layer, the base bit-identical', async () => {
    const trainable: Trainable = { kind: 'lora', rank: 2, alpha: 4, layers: ['hidden', 'head'] };
    const { round, base, after, result } = await trainOnce(trainable);
    expect(round.every((w) => /lora_[AB]/.test(w.originalName))).toBe(true);
    expect(result.delta.length).toBe(2 * (6 + 8) + 2 * (8 + 3));
    expect(result.delta.some((v) => v !== 0)).toBe(true);
    expect(after).toEqual(base);
  });

  it('writes a round vector into its weights only, and refuses one of another length', async () => {
    const trainable: Trainable = { kind: 'layers', names: ['hidden'] };
    const model = await trainableModel(pretrained(), trainable);
    const round = roundVariables(model, trainable);
    const head = await readVector(frozenVariables(model, trainable));
    const v = Float32Array.from({ length: size(round) }, (_, i) => i / 100);
    writeVector(round, v);
    expect(await readVector(round)).toEqual(v);
    expect(await readVector(frozenVariables(model, trainable))).toEqual(head);
    expect(() => writeVector(round, new Float32Array(3))).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH' }),
    );
    model.dispose();
  });

  it("builds a task's training model from its topology and initial weights, and evaluates in the round layout", async () => {
    const source = pretrained();
    const weights = await getFlatWeights(source);
    const model = {
      topology: source.toJSON(null, false) as unknown as Record<string, unknown>,
      weights: {
        specs: weightSpecOf(source).map((w) => ({
          name: w.name,
          shape: [...w.shape],
          dtype: 'float32' as const,
        })),
        data: bytesToBase64(new Uint8Array(weights.buffer)),
      },
    };
    const trainable: Trainable = { kind: 'lora', rank: 2, alpha: 4, layers: ['head'] };
    const task = { ...TASK, model };
    const tuned = await buildTrainingModel(task, trainable);
    const round = roundVariables(tuned, trainable);
    expect(size(round)).toBe(2 * (8 + 3));
    // B starts at zero: the adapted model scores exactly as the pretrained one.
    const zeros = new Float32Array(size(round));
    const before = await heldOutReport(source, examples(), weights, TASK);
    const adapted = await heldOutReport(tuned, examples(), zeros, TASK, trainable);
    expect(adapted!.metrics.accuracy).toBeCloseTo(before!.metrics.accuracy!, 6);
    expect(adapted!.metrics.loss).toBeCloseTo(before!.metrics.loss!, 5);
    expect(await readVector(round)).toEqual(zeros);
    await expect(
      buildTrainingModel(task, { kind: 'lora', rank: 2, alpha: 4, layers: ['nope'] }),
    ).rejects.toThrow(expect.objectContaining({ code: 'INVALID_TASK' }));
    source.dispose();
    tuned.dispose();
  });
});
