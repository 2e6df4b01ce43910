import type { LossName, TargetSpec } from '@pollen/fl-core';
import * as tf from '@tensorflow/tfjs';

/** Probabilities are clipped away from 0 and 1 before a log, as Keras does (its epsilon). */
export const EPSILON = 1e-7;

/** The parts of a task that say how it is scored. */
export interface LossTask {
  readonly target: TargetSpec;
  readonly loss: LossName;
}

/**
 * Cross-entropy of class (or token) ids against predicted probabilities, per example (per
 * position for sequences): -log p[label]. Labels stay ids on the device; one-hot is made
 * here, so `categoricalCrossentropy` and `sparseCategoricalCrossentropy` agree.
 */
export function crossEntropyPerItem(labels: tf.Tensor, probs: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const depth = probs.shape[probs.shape.length - 1]!;
    const oneHot = tf.oneHot(labels.toInt().flatten(), depth).reshape(probs.shape);
    return tf.neg(tf.sum(tf.mul(oneHot, tf.log(tf.clipByValue(probs, EPSILON, 1))), -1));
  });
}

/** Binary cross-entropy per value, for multilabel flags and their sigmoid outputs. */
export function binaryCrossEntropyPerItem(labels: tf.Tensor, probs: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const p = tf.clipByValue(probs, EPSILON, 1 - EPSILON);
    return tf.neg(tf.add(tf.mul(labels, tf.log(p)), tf.mul(tf.sub(1, labels), tf.log(tf.sub(1, p)))));
  });
}

/**
 * The mean loss of a batch: over examples, and over positions for a sequence target (the
 * per-token loss of next-token prediction). Huber uses delta = 1 (Huber 1964; Keras' default).
 */
export function batchLoss(task: LossTask, labels: tf.Tensor, predictions: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    switch (task.loss) {
      case 'sparseCategoricalCrossentropy':
      case 'categoricalCrossentropy':
        return tf.mean(crossEntropyPerItem(labels, predictions)) as tf.Scalar;
      case 'binaryCrossentropy':
        return tf.mean(binaryCrossEntropyPerItem(labels, predictions)) as tf.Scalar;
      case 'meanSquaredError':
        return tf.mean(tf.squaredDifference(predictions, labels)) as tf.Scalar;
      case 'meanAbsoluteError':
        return tf.mean(tf.abs(tf.sub(predictions, labels))) as tf.Scalar;
      case 'huber':
        return tf.losses.huberLoss(labels, predictions, undefined, 1, tf.Reduction.MEAN) as tf.Scalar;
    }
  });
}
