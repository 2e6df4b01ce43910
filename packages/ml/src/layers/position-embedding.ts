import * as tf from '@tensorflow/tfjs';
import { singleInput, singleShape } from './inputs.ts';

/** What a PositionEmbedding layer is configured with, as saved in a model's topology. */
export interface PositionEmbeddingArgs {
  /** Standard deviation of the embeddings' normal initialization (GPT-2 uses 0.01..0.02). */
  readonly stddev?: number;
  /** Seeds the initialization, so a model builds the same from the same seed; null: unseeded. */
  readonly seed?: number | null;
  readonly inputShape?: number[];
  readonly name?: string;
}

/**
 * A learned position embedding (Radford et al. 2018, GPT): [batch, T, d] plus a trained
 * [T, d] table, one vector per position, so that attention, which is blind to order, knows
 * where each token stands. T and d come from the input shape.
 */
export class PositionEmbedding extends tf.layers.Layer {
  static readonly className = 'PollenPositionEmbedding';
  readonly stddev: number;
  readonly seed: number | null;
  private embeddings: tf.LayerVariable | null = null;

  constructor(args: PositionEmbeddingArgs = {}) {
    super(args as ConstructorParameters<typeof tf.layers.Layer>[0]);
    const stddev = args.stddev ?? 0.02;
    if (!(Number.isFinite(stddev) && stddev > 0)) {
      throw new RangeError(`"stddev" expected a positive number, got ${stddev}`);
    }
    this.stddev = stddev;
    this.seed = args.seed ?? null;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = singleShape(inputShape);
    const [, length, width] = shape;
    if (shape.length !== 3 || typeof length !== 'number' || typeof width !== 'number') {
      throw new RangeError(
        `PositionEmbedding expected an input [batch, T, d] of known T and d, got [${shape}]`,
      );
    }
    this.embeddings = this.addWeight(
      'embeddings',
      [length, width],
      'float32',
      tf.initializers.randomNormal({
        mean: 0,
        stddev: this.stddev,
        ...(this.seed === null ? {} : { seed: this.seed }),
      }),
    );
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return singleShape(inputShape);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = singleInput(inputs);
      return x.add(this.embeddings!.read());
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), stddev: this.stddev, seed: this.seed };
  }
}

tf.serialization.registerClass(PositionEmbedding);
