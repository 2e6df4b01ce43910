import { type AugmentationSpec, type Rng, seededRng } from '@pollen/fl-core';
import * as tf from '@tensorflow/tfjs';

/**
 * On-device augmentation for image tasks (docs/tasks.md, `training.augmentation`): each
 * image of a batch is rotated by an angle drawn uniformly in [-rotationDeg, rotationDeg]
 * about its centre and shifted by up to `translate` of its height and width, with bilinear
 * interpolation and zeros where the image moved away. New draws for every batch, so each
 * epoch sees other variants of the same examples; one seeded stream per training run, so a
 * run is reproducible.
 */
export class Augmenter {
  private readonly spec: AugmentationSpec;
  private readonly rng: Rng;

  constructor(spec: AugmentationSpec, seed = spec.seed) {
    this.spec = spec;
    this.rng = seededRng(seed);
  }

  /** Whether this augmentation changes anything. */
  get active(): boolean {
    return this.spec.rotationDeg > 0 || this.spec.translate > 0;
  }

  /**
   * Augment a batch of images [n, h, w] or [n, h, w, c]; returns a new tensor of the same
   * shape (the caller disposes both).
   */
  apply(xs: tf.Tensor): tf.Tensor {
    if (xs.rank !== 3 && xs.rank !== 4) {
      throw new Error(`augmentation needs images [n, h, w] or [n, h, w, c], got rank ${xs.rank}`);
    }
    const [n, h, w] = xs.shape as [number, number, number];
    const transforms = new Float32Array(n * 8);
    for (let i = 0; i < n; i++) transforms.set(this.draw(h, w), i * 8);
    return tf.tidy(() => {
      const images = (xs.rank === 3 ? xs.expandDims(3) : xs) as tf.Tensor4D;
      const out = tf.image.transform(images, tf.tensor2d(transforms, [n, 8]), 'bilinear', 'constant', 0);
      return xs.rank === 3 ? out.squeeze([3]) : out;
    });
  }

  private draw(h: number, w: number): number[] {
    const { rotationDeg, translate } = this.spec;
    const theta = ((this.rng() * 2 - 1) * rotationDeg * Math.PI) / 180;
    const tx = (this.rng() * 2 - 1) * translate * w;
    const ty = (this.rng() * 2 - 1) * translate * h;
    return imageTransform(theta, tx, ty, h, w);
  }
}

/**
 * The transform tf.image.transform takes for rotating an h x w image by `theta` radians about
 * its centre, then shifting it by (tx, ty) pixels: [a0, a1, a2, b0, b1, b2, 0, 0] maps an
 * output pixel (x, y) to the input pixel (a0 x + a1 y + a2, b0 x + b1 y + b2), the inverse map.
 */
export function imageTransform(theta: number, tx: number, ty: number, h: number, w: number): number[] {
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  // input = R(-theta) (output - centre - t) + centre
  const ox = cx + tx;
  const oy = cy + ty;
  return [cos, sin, cx - cos * ox - sin * oy, -sin, cos, cy + sin * ox - cos * oy, 0, 0];
}
