import type { HeldOutReport, MetricValues } from '@pollen/fl-core';
import type * as tf from '@tensorflow/tfjs';
import { MetricAccumulator } from './metrics.ts';
import { batchTensors } from './preprocess.ts';
import type { BatchSource } from './source.ts';
import type { TrainTask } from './train.ts';
import { setRoundVector, type Trainable } from './trainable.ts';

/**
 * The task's loss and metrics of a model on labelled examples, read in batches so memory stays
 * bounded: what the coordinator reports on held-out data and a device on its own examples.
 */
export async function evaluate(
  model: tf.LayersModel,
  source: BatchSource,
  task: TrainTask,
  batchSize = 500,
): Promise<MetricValues> {
  const metrics = new MetricAccumulator(task);
  for await (const set of source.batches(batchSize, false)) {
    const { xs, ys } = batchTensors(set, task);
    const predictions = model.predict(xs) as tf.Tensor;
    try {
      await metrics.add(ys, predictions);
    } finally {
      xs.dispose();
      ys.dispose();
      predictions.dispose();
    }
  }
  return metrics.result();
}

/**
 * The global model's metrics on a device's held-out examples, before local training changes
 * the model (docs/tasks.md, "Evaluation on the devices"); null when the device holds none back.
 * `global` is the round's vector: only the trainable weights when the task fine-tunes a part.
 */
export async function heldOutReport(
  model: tf.LayersModel,
  heldOut: BatchSource,
  global: Float32Array,
  task: TrainTask,
  trainable: Trainable = { kind: 'all' },
): Promise<HeldOutReport | null> {
  if (heldOut.count === 0) return null;
  setRoundVector(model, trainable, global);
  return { metrics: await evaluate(model, heldOut, task), numExamples: heldOut.count };
}
