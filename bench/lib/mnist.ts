import type { ExampleBatch } from '@pollen/compression';
import { partitionIid, seededRng } from '@pollen/fl-core';
import type * as tf from '@tensorflow/tfjs';
import { loadMnist, pick } from '../../apps/coordinator/src/data/mnist.ts';
import { initTf } from '../../apps/coordinator/src/ml/tf.ts';
import { mlpTopology } from '../../apps/coordinator/src/ml/topologies.ts';
import { buildModel, getFlatWeights, toTensors, trainLocal } from '../../apps/web-client/src/worker/train.ts';

/**
 * The coordinator's own MNIST split (8,000 training and 2,000 held-out digits, the same in
 * every process) and model topologies, for benchmarks that train outside a coordinator.
 */
export { loadMnist, mlpTopology };

/** A batch as input and one-hot tensors (0..255 pixels scaled to 0..1). */
export function tensorsOf(batch: ExampleBatch): { xs: tf.Tensor; ys: tf.Tensor; count: number } {
  return toTensors(batch.pixels, batch.labels, [batch.features], 10);
}

/**
 * A real update: the delta one client of 400 IID training digits produces in one epoch from
 * a freshly initialised 784-128-10 MLP (d = 101,770), for codec figures that depend on
 * the values' distribution.
 */
export async function realDelta(seed = 1): Promise<Float32Array> {
  await initTf();
  const { train } = loadMnist();
  const shard = partitionIid(train.count, 20, seededRng(seed))[0]!;
  const data = tensorsOf(pick(train, shard));
  const model = await buildModel(await mlpTopology([128]));
  const global = await getFlatWeights(model);
  const { delta } = await trainLocal(model, data, global, {
    epochs: 1,
    batchSize: 32,
    learningRate: 0.1,
    optimizer: 'sgd',
  });
  model.dispose();
  data.xs.dispose();
  data.ys.dispose();
  return delta;
}
