import { describe, expect, it } from 'vitest';
import { validateTaskSpec } from '../task.ts';
import { refusal } from './refusal.ts';

const base = {
  id: 'tune',
  name: 'Fine-tune',
  model: { kind: 'mlp', hidden: [16] },
  input: { shape: [8], dtype: 'float32' },
  target: { kind: 'class', numClasses: 3 },
  training: { epochs: 1, batchSize: 16, learningRate: 0.01 },
  rounds: { cohortSize: 3, minReports: 2, deadlineMs: 30_000 },
};

const withTrainable = (trainable: unknown) => ({ ...base, training: { ...base.training, trainable } });

describe("a task's trainable block", () => {
  it('is absent unless given, so existing specs validate to what they were', () => {
    expect(validateTaskSpec(base).training).not.toHaveProperty('trainable');
  });

  it.each([
    [{ kind: 'all' }],
    [{ kind: 'layers', names: ['output'] }],
    [{ kind: 'lora', rank: 4, alpha: 8, layers: ['hidden1', 'output'] }],
  ])('keeps %j', (trainable) => {
    const spec = validateTaskSpec(withTrainable(trainable));
    expect(spec.training.trainable).toEqual(trainable);
    expect(validateTaskSpec(JSON.parse(JSON.stringify(spec)))).toEqual(spec);
  });

  it.each([
    [
      'an unknown kind',
      { kind: 'head' },
      /"training.trainable.kind" expected one of all, layers, lora, got "head"/,
    ],
    [
      'no layer names',
      { kind: 'layers', names: [] },
      /"training.trainable.names" expected array of 1\.\.1000/,
    ],
    ['an empty layer name', { kind: 'layers', names: [''] }, /"training.trainable.names\[0\]"/],
    [
      'a rank of 0',
      { kind: 'lora', rank: 0, alpha: 8, layers: ['output'] },
      /"training.trainable.rank" expected integer in \[1, 256\], got 0/,
    ],
    [
      'a rank above 256',
      { kind: 'lora', rank: 512, alpha: 8, layers: ['output'] },
      /"training.trainable.rank" expected integer in \[1, 256\], got 512/,
    ],
    [
      'a fractional rank',
      { kind: 'lora', rank: 1.5, alpha: 8, layers: ['output'] },
      /"training.trainable.rank" expected integer/,
    ],
    ['an alpha of 0', { kind: 'lora', rank: 2, alpha: 0, layers: ['output'] }, /"training.trainable.alpha"/],
    [
      'a negative alpha',
      { kind: 'lora', rank: 2, alpha: -1, layers: ['output'] },
      /"training.trainable.alpha"/,
    ],
    ['no adapted layers', { kind: 'lora', rank: 2, alpha: 4, layers: [] }, /"training.trainable.layers"/],
    [
      'a missing rank',
      { kind: 'lora', alpha: 4, layers: ['output'] },
      /"training.trainable.rank" expected a value/,
    ],
    [
      'a field of another kind',
      { kind: 'layers', names: ['output'], rank: 2 },
      /"training.trainable.rank" expected no such field/,
    ],
    [
      'a layer named twice',
      { kind: 'lora', rank: 2, alpha: 4, layers: ['output', 'output'] },
      /"training.trainable.layers" names layer "output" twice/,
    ],
  ])('refuses %s, naming the field', (_name, trainable, message) => {
    expect(refusal(withTrainable(trainable))).toMatch(message);
  });
});
