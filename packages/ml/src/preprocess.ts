import type { InputSpec } from '@pollen/fl-core';
import * as tf from '@tensorflow/tfjs';
import { type ExampleSet, type ExampleTask, type ExampleValues, labelSize } from './examples.ts';

/**
 * Features as model input: float32 [count, ...shape] of stored value * scale + offset (the
 * input spec's preprocessing; MNIST's 0..255 pixels times 1/255).
 */
export function inputTensor(x: ExampleValues, count: number, input: InputSpec): tf.Tensor {
  const scale = input.scale ?? 1;
  const offset = input.offset ?? 0;
  const size = input.shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(count * size);
  for (let i = 0; i < values.length; i++) values[i] = x[i]! * scale + offset;
  return tf.tensor(values, [count, ...input.shape], 'float32');
}

/**
 * Labels as the losses and metrics read them: int32 [count] class ids, int32 [count, length]
 * next tokens, float32 [count, numLabels] 0/1 flags, float32 [count, ...shape] regression values.
 */
export function targetTensor(y: ExampleValues, count: number, task: ExampleTask): tf.Tensor {
  const { target } = task;
  const size = labelSize(task);
  const values = y.subarray(0, count * size);
  switch (target.kind) {
    case 'class':
      return tf.tensor1d(Int32Array.from(values), 'int32');
    case 'sequence':
      return tf.tensor2d(Int32Array.from(values), [count, size], 'int32');
    case 'multilabel':
      return tf.tensor2d(Float32Array.from(values), [count, size], 'float32');
    case 'regression':
      return tf.tensor(Float32Array.from(values), [count, ...target.shape], 'float32');
  }
}

/** A batch's input and target tensors; the caller disposes them. */
export function batchTensors(set: ExampleSet, task: ExampleTask): { xs: tf.Tensor; ys: tf.Tensor } {
  return { xs: inputTensor(set.x, set.count, task.input), ys: targetTensor(set.y, set.count, task) };
}
