import type { ExampleBatch } from '@pollen/compression';
import type { TaskSpec } from '@pollen/fl-core';
import type * as tf from '@tensorflow/tfjs';
import { loadMnist } from '../data/mnist.ts';
import { buildModel, type Evaluation, evaluate, readWeights, writeWeights } from './tf.ts';

/**
 * A task's model on the coordinator: built once from the topology, used to make the
 * initial weights and to evaluate every new global model on the held-out split.
 */
export class TaskModel {
  private constructor(
    private readonly spec: TaskSpec,
    readonly model: tf.LayersModel,
    private readonly heldOut: ExampleBatch,
  ) {}

  static async create(spec: TaskSpec): Promise<TaskModel> {
    const model = await buildModel(spec.modelTopology);
    return new TaskModel(spec, model, loadMnist().test);
  }

  /** The freshly initialised weights of the topology. */
  initialWeights(): Promise<Float32Array> {
    return readWeights(this.model);
  }

  /** Held-out accuracy and loss of a weight vector. */
  evaluate(weights: Float32Array): Promise<Evaluation> {
    writeWeights(this.model, weights);
    return evaluate(this.model, this.heldOut, this.spec.inputShape, this.spec.numClasses);
  }

  dispose(): void {
    this.model.dispose();
  }
}
