import * as tf from '@tensorflow/tfjs';
import { initTf } from './tf.ts';

/**
 * Topologies Pollen ships, as tfjs Layers JSON. Layers are named explicitly so weight names
 * are the same in every process that builds them.
 */
export async function mlpTopology(hidden: readonly number[] = [128]): Promise<Record<string, unknown>> {
  await initTf();
  const model = tf.sequential({ name: 'mnist_mlp' });
  hidden.forEach((units, i) => {
    model.add(
      tf.layers.dense({
        name: `hidden${i + 1}`,
        units,
        activation: 'relu',
        ...(i === 0 ? { inputShape: [784] } : {}),
      }),
    );
  });
  model.add(tf.layers.dense({ name: 'output', units: 10, activation: 'softmax' }));
  const topology = model.toJSON(null, false) as unknown as Record<string, unknown>;
  model.dispose();
  return topology;
}

/** A small convolutional network for 28x28x1 digits (WebGPU and WebGL can train it; WASM cannot). */
export async function cnnTopology(): Promise<Record<string, unknown>> {
  await initTf();
  const model = tf.sequential({
    name: 'mnist_cnn',
    layers: [
      tf.layers.conv2d({
        name: 'conv1',
        inputShape: [28, 28, 1],
        filters: 8,
        kernelSize: 5,
        activation: 'relu',
      }),
      tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2 }),
      tf.layers.flatten({ name: 'flat' }),
      tf.layers.dense({ name: 'output', units: 10, activation: 'softmax' }),
    ],
  });
  const topology = model.toJSON(null, false) as unknown as Record<string, unknown>;
  model.dispose();
  return topology;
}
