import type * as tf from '@tensorflow/tfjs';

/**
 * What tfjs hands a one-input layer: a shape or a tensor, or a list of one. Every Pollen layer
 * that takes a single input reads it through these.
 */

/** The one input's shape. */
export function singleShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
  return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
}

/** The one input tensor. */
export function singleInput(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(inputs) ? inputs[0]! : inputs;
}
