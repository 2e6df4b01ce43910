import * as tf from '@tensorflow/tfjs';
import { singleInput, singleShape } from './inputs.ts';

/**
 * The last position of a sequence: [batch, T, d] -> [batch, d]. A decoder predicts the next
 * token from its last position, which has attended to all of the context. A slice, not a
 * gather: tfjs' gather gradient has no kernel on the WASM backend. No weights.
 */
export class LastPosition extends tf.layers.Layer {
  static readonly className = 'PollenLastPosition';

  constructor(args: { readonly name?: string } = {}) {
    super(args as ConstructorParameters<typeof tf.layers.Layer>[0]);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = singleShape(inputShape);
    if (shape.length !== 3)
      throw new RangeError(`LastPosition expected an input [batch, T, d], got [${shape}]`);
    return [shape[0]!, shape[2]!];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = singleInput(inputs) as tf.Tensor3D;
      const [batch, length, width] = x.shape;
      return x.slice([0, length - 1, 0], [batch, 1, width]).reshape([batch, width]);
    });
  }
}

tf.serialization.registerClass(LastPosition);
