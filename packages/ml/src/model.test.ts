import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTf } from './backend.ts';
import { bytesToBase64 } from './base64.ts';
import { buildModel, checkModelFits, modelTopology } from './model.ts';
import { getFlatWeights, setFlatWeights, weightSpecOf } from './weights.ts';

beforeAll(async () => {
  await initTf();
});

const DIGITS = {
  input: { shape: [784], dtype: 'uint8' as const, scale: 1 / 255 },
  target: { kind: 'class' as const, numClasses: 10 },
};

function refusal(fn: () => void): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return `${(err as { code?: string }).code}: ${(err as Error).message}`;
  }
}

describe('models from a task', () => {
  it('expands the MNIST shorthands to the layers and weight names earlier versions shipped', async () => {
    const mlp = await buildModel({ ...DIGITS, model: { kind: 'mlp', hidden: [128] } });
    expect(weightSpecOf(mlp)).toEqual([
      { name: 'hidden1/kernel', shape: [784, 128] },
      { name: 'hidden1/bias', shape: [128] },
      { name: 'output/kernel', shape: [128, 10] },
      { name: 'output/bias', shape: [10] },
    ]);
    checkModelFits(mlp, DIGITS);
    mlp.dispose();
    const cnnTask = {
      ...DIGITS,
      input: { ...DIGITS.input, shape: [28, 28, 1] },
      model: { kind: 'cnn' as const },
    };
    const cnn = await buildModel(cnnTask);
    expect(weightSpecOf(cnn).map((w) => w.name)).toEqual([
      'conv1/kernel',
      'conv1/bias',
      'output/kernel',
      'output/bias',
    ]);
    expect(weightSpecOf(cnn)[0]!.shape).toEqual([5, 5, 1, 8]);
    checkModelFits(cnn, cnnTask);
    cnn.dispose();
  });

  it('gives each target kind its output: sigmoid flags, a reshaped regression tensor', async () => {
    const multilabel = {
      input: { shape: [6], dtype: 'float32' as const },
      target: { kind: 'multilabel' as const, numLabels: 3 },
    };
    const m = await buildModel({ ...multilabel, model: { kind: 'mlp', hidden: [4] } });
    const p = m.predict(tf.ones([2, 6])) as tf.Tensor;
    expect(p.shape).toEqual([2, 3]);
    // Sigmoid outputs need not sum to 1.
    expect((await p.data()).every((v) => v > 0 && v < 1)).toBe(true);
    tf.dispose(p);
    m.dispose();
    const regression = {
      input: { shape: [4, 4, 1], dtype: 'float32' as const },
      target: { kind: 'regression' as const, shape: [2, 3] },
    };
    const r = await buildModel({
      ...regression,
      model: { kind: 'cnn', filters: [2], kernelSize: 3, dense: [5] },
    });
    checkModelFits(r, regression);
    expect(r.outputs[0]!.shape).toEqual([null, 2, 3]);
    r.dispose();
  });

  it('loads a topology with initial weights, as tf.loadLayersModel would', async () => {
    const source = await buildModel({ ...DIGITS, model: { kind: 'mlp', hidden: [3] } });
    const topology = await modelTopology({ ...DIGITS, model: { kind: 'mlp', hidden: [3] } });
    const weights = Float32Array.from({ length: 784 * 3 + 3 + 3 * 10 + 10 }, (_, i) => Math.sin(i));
    setFlatWeights(source, weights);
    const specs = weightSpecOf(source).map((w) => ({
      name: w.name,
      shape: [...w.shape],
      dtype: 'float32' as const,
    }));
    const data = bytesToBase64(new Uint8Array(weights.buffer));
    const loaded = await buildModel({ ...DIGITS, model: { topology, weights: { specs, data } } });
    expect(await getFlatWeights(loaded)).toEqual(weights);
    source.dispose();
    loaded.dispose();
    // Weights that do not match the manifest are refused, naming the model.
    const short = bytesToBase64(new Uint8Array(weights.buffer).subarray(0, 100));
    await expect(
      buildModel({ ...DIGITS, model: { topology, weights: { specs, data: short } } }),
    ).rejects.toMatchObject({
      code: 'INVALID_TASK',
    });
    await expect(buildModel({ ...DIGITS, model: { topology: { class_name: 'Nope' } } })).rejects.toThrow(
      /"model.topology"/,
    );
  });

  it('refuses a model whose input or output disagrees with the task', async () => {
    const model = await buildModel({ ...DIGITS, model: { kind: 'mlp', hidden: [4] } });
    expect(
      refusal(() => checkModelFits(model, { ...DIGITS, input: { shape: [28, 28, 1], dtype: 'uint8' } })),
    ).toMatch(/^INVALID_TASK: "input.shape" \[28, 28, 1\] disagrees with the model's input \[784\]/);
    expect(
      refusal(() => checkModelFits(model, { ...DIGITS, target: { kind: 'class', numClasses: 5 } })),
    ).toMatch(/^INVALID_TASK: "target" \(class\) needs a model output of \[5\], the model gives \[10\]/);
    expect(
      refusal(() =>
        checkModelFits(model, {
          input: { shape: [784], dtype: 'int32' },
          target: { kind: 'sequence', vocabSize: 10 },
        }),
      ),
    ).toMatch(/needs a model output of \[784, 10\]/);
    model.dispose();
  });
});
