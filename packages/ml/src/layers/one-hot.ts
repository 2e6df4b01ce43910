import * as tf from '@tensorflow/tfjs';
import { singleInput, singleShape } from './inputs.ts';

/** What a OneHot layer is configured with, as saved in a model's topology. */
export interface OneHotArgs {
  /** Token ids are 0..depth-1; each becomes a vector of `depth` values. */
  readonly depth: number;
}

/**
 * Token ids as one-hot vectors: [batch, length] ids -> [batch, length, depth]. tfjs' Embedding
 * layer would do the same job with fewer weights downstream, but its gradient (a gather's,
 * UnsortedSegmentSum) has no kernel on the WASM backend, which is where most browsers train;
 * one-hot input then a recurrent layer trains on every backend. No weights; ids outside
 * 0..depth-1 give all-zero vectors.
 */
export class OneHot extends tf.layers.Layer {
  static readonly className = 'PollenOneHot';
  readonly depth: number;

  constructor(args: OneHotArgs & { readonly inputShape?: number[]; readonly name?: string }) {
    super(args as ConstructorParameters<typeof tf.layers.Layer>[0]);
    if (!Number.isInteger(args.depth) || args.depth < 1 || args.depth > 65_536) {
      throw new RangeError(`"depth" expected an integer in [1, 65536], got ${args.depth}`);
    }
    this.depth = args.depth;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = singleShape(inputShape);
    return [...shape, this.depth];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = singleInput(inputs);
    return tf.tidy(() => tf.oneHot(tf.cast(x, 'int32'), this.depth).toFloat());
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), depth: this.depth };
  }
}

tf.serialization.registerClass(OneHot);
