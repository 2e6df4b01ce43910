import * as tf from '@tensorflow/tfjs';
import { singleInput, singleShape } from './inputs.ts';

/** What a LayerNorm layer is configured with, as saved in a model's topology. */
export interface LayerNormArgs {
  /** Added to the variance before its square root. */
  readonly epsilon?: number;
  readonly name?: string;
}

/**
 * Layer normalization over the last axis (Ba et al. 2016): (x - mean) / sqrt(var + epsilon) *
 * gamma + beta, gamma and beta of the last axis' size. tfjs' own LayerNormalization computes
 * the same, but tiles gamma, beta and the moments to the input's full shape, and tfjs' Tile
 * gradient is a loop of one slice and one add per tile: for a [32, 32, d] batch, over a
 * thousand kernels per LayerNorm and 90% of a transformer's training step on WASM. Broadcasting
 * instead makes the gradients plain sums.
 */
export class LayerNorm extends tf.layers.Layer {
  static readonly className = 'PollenLayerNorm';
  readonly epsilon: number;
  private gamma: tf.LayerVariable | null = null;
  private beta: tf.LayerVariable | null = null;

  constructor(args: LayerNormArgs = {}) {
    super(args as ConstructorParameters<typeof tf.layers.Layer>[0]);
    const epsilon = args.epsilon ?? 1e-5;
    if (!(Number.isFinite(epsilon) && epsilon > 0)) {
      throw new RangeError(`"epsilon" expected a positive number, got ${epsilon}`);
    }
    this.epsilon = epsilon;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = singleShape(inputShape);
    const width = shape[shape.length - 1];
    if (typeof width !== 'number') throw new RangeError('LayerNorm expected a known last dimension');
    this.gamma = this.addWeight('gamma', [width], 'float32', tf.initializers.ones());
    this.beta = this.addWeight('beta', [width], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return singleShape(inputShape);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = singleInput(inputs);
      const axis = x.rank - 1;
      const centered = x.sub(x.mean(axis, true));
      const variance = centered.square().mean(axis, true);
      return centered.mul(variance.add(this.epsilon).rsqrt()).mul(this.gamma!.read()).add(this.beta!.read());
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.epsilon };
  }
}

tf.serialization.registerClass(LayerNorm);
