import * as tf from '@tensorflow/tfjs';

/** What a CausalSelfAttention layer is configured with, as saved in a model's topology. */
export interface CausalSelfAttentionArgs {
  /** The width d of q, k and v is split into this many heads of d / heads each. */
  readonly heads: number;
  readonly name?: string;
}

/** Added to the scores of later positions: exp of it underflows to 0, where -Infinity would give NaN gradients. */
const MASKED = -1e9;

/** [T, T]: 0 where position i may attend to j (j <= i), {@link MASKED} after it. */
function causalMask(length: number): tf.Tensor2D {
  const values = new Float32Array(length * length);
  for (let i = 0; i < length; i++) for (let j = i + 1; j < length; j++) values[i * length + j] = MASKED;
  return tf.tensor2d(values, [length, length]);
}

/**
 * Masked multi-head self-attention (Vaswani et al. 2017, "Attention is all you need", 3.2),
 * causal as in a decoder: inputs [q, k, v], each [batch, T, d], already projected; per head h
 * softmax(q_h k_h^T / sqrt(d / heads) + mask) v_h, where the mask keeps position t from
 * seeing positions after t; the heads concatenated back to [batch, T, d]. No weights: the
 * projections are ordinary Dense layers around it, so LoRA (`withLora`) can adapt them by name.
 */
export class CausalSelfAttention extends tf.layers.Layer {
  static readonly className = 'PollenCausalSelfAttention';
  readonly heads: number;

  constructor(args: CausalSelfAttentionArgs) {
    super(args as ConstructorParameters<typeof tf.layers.Layer>[0]);
    if (!Number.isInteger(args.heads) || args.heads < 1 || args.heads > 256) {
      throw new RangeError(`"heads" expected an integer in [1, 256], got ${args.heads}`);
    }
    this.heads = args.heads;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shapes = inputShape as tf.Shape[];
    if (!Array.isArray(shapes[0]) || shapes.length !== 3) {
      throw new RangeError('CausalSelfAttention expected three inputs [q, k, v]');
    }
    const width = shapes[0][2];
    for (const s of shapes as tf.Shape[]) {
      if (s.length !== 3 || s[2] !== width)
        throw new RangeError('q, k and v expected [batch, T, d] each, one d');
    }
    if (typeof width === 'number' && width % this.heads !== 0) {
      throw new RangeError(`the width ${width} expected a multiple of "heads" (${this.heads})`);
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return (inputShape as tf.Shape[])[0]!;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [q, k, v] = inputs as tf.Tensor3D[];
      const [batch, length, width] = q!.shape;
      const size = width / this.heads;
      // [batch, T, d] -> [batch, heads, T, d / heads]
      const split = (t: tf.Tensor3D): tf.Tensor4D =>
        t.reshape([batch, length, this.heads, size]).transpose([0, 2, 1, 3]);
      const scores = tf
        .matMul(split(q!), split(k!), false, true)
        .mul(1 / Math.sqrt(size))
        .add(causalMask(length));
      const heads = tf.matMul(tf.softmax(scores), split(v!));
      return heads.transpose([0, 2, 1, 3]).reshape([batch, length, width]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), heads: this.heads };
  }
}

tf.serialization.registerClass(CausalSelfAttention);
