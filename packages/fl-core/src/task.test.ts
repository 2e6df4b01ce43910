import { describe, expect, it } from 'vitest';
import { PollenError } from './errors.ts';
import { validateTaskSpec } from './task.ts';

const valid = {
  id: 'mnist',
  name: 'Digits',
  modelTopology: { class_name: 'Sequential', config: {} },
  inputShape: [784],
  numClasses: 10,
  dataset: { name: 'mnist', partition: { kind: 'dirichlet', alpha: 0.5 }, numShards: 100 },
  training: { epochs: 1, batchSize: 32, learningRate: 0.1 },
  rounds: { cohortSize: 10, minReports: 5, deadlineMs: 30_000 },
};

function codeOf(input: unknown): string {
  try {
    validateTaskSpec(input);
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(PollenError);
    return `${(err as PollenError).code}: ${(err as Error).message}`;
  }
}

describe('task spec validation', () => {
  it('fills defaults for a valid task', () => {
    const spec = validateTaskSpec(valid);
    expect(spec.rounds.overSelection).toBe(1.3);
    expect(spec.rounds.minClients).toBe(5);
    expect(spec.training.optimizer).toBe('sgd');
    expect(spec.codec).toBe('f32');
  });

  it.each([
    ['not an object', null, /"task" expected object/],
    ['bad id', { ...valid, id: 'Bad Id!' }, /"id"/],
    [
      'NaN learning rate',
      { ...valid, training: { ...valid.training, learningRate: Number.NaN } },
      /learningRate/,
    ],
    ['negative epochs', { ...valid, training: { ...valid.training, epochs: -1 } }, /epochs/],
    ['quorum above cohort', { ...valid, rounds: { ...valid.rounds, minReports: 11 } }, /cannot exceed/],
    [
      'unknown partition',
      { ...valid, dataset: { ...valid.dataset, partition: { kind: 'zipf' } } },
      /partition.kind/,
    ],
    [
      'zero alpha',
      { ...valid, dataset: { ...valid.dataset, partition: { kind: 'dirichlet', alpha: 0 } } },
      /alpha/,
    ],
    ['unknown codec', { ...valid, codec: 'f8' }, /codec/],
    ['infinite norm bound', { ...valid, maxUpdateNorm: Number.POSITIVE_INFINITY }, /maxUpdateNorm/],
    ['no topology', { ...valid, modelTopology: 'x' }, /modelTopology/],
  ])('refuses %s with INVALID_TASK', (_name, input, message) => {
    const result = codeOf(input);
    expect(result).toMatch(/^INVALID_TASK: /);
    expect(result).toMatch(message);
  });
});
