import * as tf from '@tensorflow/tfjs';

/**
 * For tests: a small pretrained-looking MLP, 6 -> 8 (relu, `hidden`) -> 3 (softmax, `head`),
 * with seeded weights, the base the LoRA and trainable-subset tests adapt.
 */
export function pretrainedMlp(): tf.Sequential {
  const m = tf.sequential();
  m.add(
    tf.layers.dense({
      units: 8,
      activation: 'relu',
      inputShape: [6],
      name: 'hidden',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      biasInitializer: tf.initializers.randomNormal({ seed: 2, stddev: 0.1 }),
    }),
  );
  m.add(
    tf.layers.dense({
      units: 3,
      activation: 'softmax',
      name: 'head',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }),
    }),
  );
  return m;
}
