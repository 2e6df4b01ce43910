import { describe, expect, it } from 'vitest';
import { validateTaskSpec } from '../task.ts';
import { metricKey } from './fit.ts';
import { upgradeLegacyTask } from './legacy.ts';
import { refusal } from './refusal.ts';

const base = {
  id: 'houses',
  name: 'House prices',
  model: { kind: 'mlp', hidden: [16] },
  input: { shape: [8], dtype: 'float32' },
  target: { kind: 'regression', shape: [1] },
  training: { epochs: 1, batchSize: 16, learningRate: 0.01 },
  rounds: { cohortSize: 3, minReports: 2, deadlineMs: 30_000 },
};

describe('the task schema', () => {
  it('fills the loss and metrics a target kind defaults to', () => {
    const cases: [Record<string, unknown>, Record<string, unknown>, string, string[]][] = [
      [
        { kind: 'class', numClasses: 3 },
        { shape: [8], dtype: 'float32' },
        'sparseCategoricalCrossentropy',
        ['accuracy'],
      ],
      [
        { kind: 'multilabel', numLabels: 4 },
        { shape: [8], dtype: 'float32' },
        'binaryCrossentropy',
        ['accuracy', 'auc'],
      ],
      [
        { kind: 'regression', shape: [1] },
        { shape: [8], dtype: 'float32' },
        'meanSquaredError',
        ['mse', 'mae'],
      ],
      [
        { kind: 'sequence', vocabSize: 50 },
        { shape: [16], dtype: 'int32' },
        'sparseCategoricalCrossentropy',
        ['accuracy', 'perplexity'],
      ],
    ];
    for (const [target, input, loss, metrics] of cases) {
      const model = target.kind === 'sequence' ? { topology: {} } : base.model;
      const spec = validateTaskSpec({ ...base, model, input, target });
      expect(spec.loss).toBe(loss);
      expect(spec.metrics.map(metricKey)).toEqual(metrics);
    }
  });

  it('keeps the CSV columns of its data files', () => {
    const columns = { features: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'], target: 'price', group: 'user' };
    expect(validateTaskSpec({ ...base, columns }).columns).toEqual(columns);
    expect(validateTaskSpec(base)).not.toHaveProperty('columns');
  });

  it('keeps a declared loss and metrics, and a validated spec validates to itself', () => {
    const spec = validateTaskSpec({
      ...base,
      target: { kind: 'class', numClasses: 10 },
      loss: 'categoricalCrossentropy',
      metrics: ['accuracy', { name: 'topKAccuracy', k: 3 }, 'perplexity'],
    });
    expect(spec.metrics.map(metricKey)).toEqual(['accuracy', 'topKAccuracy@3', 'perplexity']);
    expect(validateTaskSpec(JSON.parse(JSON.stringify(spec)))).toEqual(spec);
  });

  it.each([
    ['no model', { model: undefined }, /"model" expected object, got nothing/],
    ['an unknown model kind', { model: { kind: 'rnn' } }, /"model.kind" expected one of mlp, cnn, got "rnn"/],
    [
      'a hidden layer of 0 units',
      { model: { kind: 'mlp', hidden: [0] } },
      /"model.hidden\[0\]" expected integer in \[1, 4096\]/,
    ],
    [
      'an unknown field in a shorthand',
      { model: { kind: 'mlp', hidden: [4], depth: 3 } },
      /"model.depth" expected no such field/,
    ],
    [
      'a weight entry of unknown dtype',
      { model: { topology: {}, weights: { specs: [{ name: 'w', shape: [1], dtype: 'bool' }], data: '' } } },
      /"model.weights.specs\[0\].dtype"/,
    ],
    ['no input', { input: undefined }, /"input" expected object, got nothing/],
    [
      'an input dimension of 0',
      { input: { shape: [0], dtype: 'float32' } },
      /"input.shape\[0\]" expected integer in \[1, 65536\], got 0/,
    ],
    [
      'an input of 5 dimensions',
      { input: { shape: [1, 1, 1, 1, 1], dtype: 'float32' } },
      /"input.shape" expected array of 1..4 items/,
    ],
    [
      'an unknown dtype',
      { input: { shape: [8], dtype: 'float64' } },
      /"input.dtype" expected one of float32, int32, uint8, got "float64"/,
    ],
    [
      'a zero scale',
      { input: { shape: [8], dtype: 'float32', scale: 0 } },
      /"input.scale" expected a finite non-zero number/,
    ],
    [
      'an unknown target kind',
      { target: { kind: 'ranking' } },
      /"target.kind" expected one of class, multilabel, regression, sequence/,
    ],
    [
      'one class',
      { target: { kind: 'class', numClasses: 1 } },
      /"target.numClasses" expected integer in \[2, 65536\], got 1/,
    ],
    ['more than 65,536 classes', { target: { kind: 'class', numClasses: 70_000 } }, /"target.numClasses"/],
    ['a regression shape of 0', { target: { kind: 'regression', shape: [0] } }, /"target.shape\[0\]"/],
    ['an unknown loss', { loss: 'hinge' }, /"loss" expected one of sparseCategoricalCrossentropy, /],
    [
      'a loss that does not fit the target',
      { loss: 'binaryCrossentropy' },
      /"loss" binaryCrossentropy does not fit a regression target; use one of meanSquaredError, meanAbsoluteError, huber/,
    ],
    ['an unknown metric', { metrics: ['f1'] }, /"metrics\[0\]" expected one of accuracy, mse/],
    [
      'a metric that does not fit the target',
      { metrics: ['mse', 'accuracy'] },
      /"metrics\[1\]" accuracy does not fit a regression target/,
    ],
    ['a metric listed twice', { metrics: ['mse', 'mse'] }, /"metrics\[1\]" mse is listed twice/],
    [
      'AUC of 10 classes',
      { target: { kind: 'class', numClasses: 10 }, metrics: ['auc'] },
      /"metrics\[0\]" auc needs a binary target/,
    ],
    [
      'top-k with k at the class count',
      { target: { kind: 'class', numClasses: 5 }, metrics: [{ name: 'topKAccuracy', k: 5 }] },
      /"metrics\[0\].k" \(5\) must be below the 5 classes/,
    ],
    [
      'a top-k without k',
      { target: { kind: 'class', numClasses: 5 }, metrics: [{ name: 'topKAccuracy' }] },
      /"metrics\[0\].k" expected a value/,
    ],
    [
      'built-in data for another input',
      { data: { builtin: 'mnist', partition: { kind: 'iid' }, numShards: 4 } },
      /"data.builtin" mnist holds 28x28 uint8 digits/,
    ],
    [
      'unknown built-in data',
      { data: { builtin: 'cifar', partition: { kind: 'iid' }, numShards: 4 } },
      /"data.builtin" expected one of mnist, brown, spam-assassin, got "cifar"/,
    ],
    [
      'an unknown part of built-in data',
      { data: { builtin: 'brown', part: 'finetune', partition: { kind: 'iid' }, numShards: 4 } },
      /"data.part" expected one of all, pretrain, fine-tune, got "finetune"/,
    ],
    [
      'a part of data that has none',
      { data: { builtin: 'mnist', part: 'fine-tune', partition: { kind: 'iid' }, numShards: 4 } },
      /"data.part" fine-tune splits brown by genre; mnist has only the part all/,
    ],
    [
      'a CNN on a flat input',
      { model: { kind: 'cnn' } },
      /"model.kind" cnn needs "input.shape" \[height, width, channels\]/,
    ],
    [
      'a shorthand for a sequence',
      { input: { shape: [8], dtype: 'int32' }, target: { kind: 'sequence', vocabSize: 9 } },
      /"model.kind" mlp cannot predict a sequence/,
    ],
    [
      'a float sequence input',
      {
        model: { topology: {} },
        input: { shape: [8], dtype: 'float32' },
        target: { kind: 'sequence', vocabSize: 9 },
      },
      /"input.dtype" of a sequence target holds token ids/,
    ],
    ['an unknown columns field', { columns: { label: 'y' } }, /"columns.label" expected no such field/],
    ['an empty feature list', { columns: { features: [] } }, /"columns.features" expected array of 1..65536/],
    [
      'feature columns that do not fill the input',
      { columns: { features: ['a', 'b'] } },
      /"columns.features" names 2 columns, "input.shape" \[8\] holds 8 values/,
    ],
    [
      'target columns that do not fill a label',
      { columns: { target: ['p', 'q'] } },
      /"columns.target" names 2 columns, a regression label holds 1 values/,
    ],
    [
      'a column in two roles',
      { columns: { target: 'price', group: 'price' } },
      /"columns.group" column "price" is also named in "columns.target"/,
    ],
  ])('refuses %s, naming the field', (_name, change, message) => {
    expect(refusal({ ...base, ...change })).toMatch(message);
  });
});

describe('specs stored before tasks described their model', () => {
  const stored = {
    id: 'mnist',
    name: 'Digits',
    modelTopology: { class_name: 'Sequential', config: { name: 'mnist_mlp' } },
    inputShape: [784],
    numClasses: 10,
    dataset: { name: 'mnist', partition: { kind: 'iid' }, numShards: 20, seed: 1 },
    training: { epochs: 1, batchSize: 32, learningRate: 0.1, optimizer: 'sgd' },
    rounds: { cohortSize: 10, minReports: 1, deadlineMs: 60_000 },
    codec: 'f32',
    maxUpdateNorm: 1000,
  };

  it('open as the MNIST task in the new shape', () => {
    const spec = validateTaskSpec(stored);
    expect(spec.model).toEqual({ topology: stored.modelTopology });
    expect(spec.input).toEqual({ shape: [784], dtype: 'uint8', scale: 1 / 255 });
    expect(spec.target).toEqual({ kind: 'class', numClasses: 10 });
    expect(spec.loss).toBe('sparseCategoricalCrossentropy');
    expect(spec.metrics).toEqual(['accuracy']);
    expect(spec.data).toEqual({ builtin: 'mnist', partition: { kind: 'iid' }, numShards: 20, seed: 1 });
    expect(spec).not.toHaveProperty('modelTopology');
    expect(spec).not.toHaveProperty('dataset');
    expect(validateTaskSpec(JSON.parse(JSON.stringify(spec)))).toEqual(spec);
  });

  it('are left alone once in the new shape, and an old field beside new ones is refused by name', () => {
    const upgraded = upgradeLegacyTask(stored);
    expect(upgradeLegacyTask(upgraded)).toBe(upgraded);
    expect(refusal({ ...(upgraded as object), numClasses: 10 })).toMatch(
      /"numClasses" expected no such field/,
    );
  });

  it('read `dataset` as `data` beside new fields, and refuse it beside `data`', () => {
    const digits = {
      ...base,
      input: { shape: [784], dtype: 'uint8' },
      target: { kind: 'class', numClasses: 10 },
    };
    const dataset = { name: 'mnist', partition: { kind: 'iid' }, numShards: 4 };
    expect(validateTaskSpec({ ...digits, dataset }).data).toEqual({
      builtin: 'mnist',
      partition: { kind: 'iid' },
      numShards: 4,
      seed: 0,
    });
    const data = { builtin: 'mnist', partition: { kind: 'iid' }, numShards: 4 };
    expect(refusal({ ...digits, data, dataset })).toMatch(/"dataset" expected no such field/);
  });
});
