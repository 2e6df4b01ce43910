import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Augmenter, imageTransform } from './augment.ts';
import { initTf } from './backend.ts';

beforeAll(async () => {
  await initTf();
});

/** One 5x5 image, a single bright pixel at (row, col). */
function dot(row: number, col: number): tf.Tensor {
  const v = new Float32Array(25);
  v[row * 5 + col] = 1;
  return tf.tensor(v, [1, 5, 5, 1]);
}

describe('Augmenter', () => {
  it('is the identity with no rotation and no shift', async () => {
    const a = new Augmenter({ rotationDeg: 0, translate: 0, seed: 1 });
    expect(a.active).toBe(false);
    const x = dot(1, 3);
    const y = a.apply(x);
    expect(Array.from(await y.data())).toEqual(Array.from(await x.data()));
    tf.dispose([x, y]);
  });

  it('rotates about the centre and shifts by pixels (known answers on a 5x5 image)', async () => {
    const at = async (transform: number[]): Promise<number> => {
      const x = dot(1, 3);
      const y = tf.image.transform(x as tf.Tensor4D, tf.tensor2d([transform]), 'bilinear', 'constant', 0);
      const v = await y.data();
      tf.dispose([x, y]);
      return v.findIndex((p) => p > 0.99);
    };
    // 180 degrees about (2, 2): (row 1, col 3) goes to (row 3, col 1).
    expect(await at(imageTransform(Math.PI, 0, 0, 5, 5))).toBe(3 * 5 + 1);
    // Shift right by 1 and down by 1: (1, 3) goes to (2, 4).
    expect(await at(imageTransform(0, 1, 1, 5, 5))).toBe(2 * 5 + 4);
    // A random rotation leaves the centre pixel where it is.
    const a = new Augmenter({ rotationDeg: 90, translate: 0, seed: 7 });
    const x = tf.tensor(
      Float32Array.from({ length: 25 }, (_, i) => i),
      [1, 5, 5],
    );
    const y = a.apply(x);
    expect(y.shape).toEqual([1, 5, 5]);
    expect((await y.data())[12]).toBeCloseTo(12, 4);
    tf.dispose([x, y]);
  });

  it('shifts by whole pixels, with zeros where the image moved away, and is deterministic per seed', async () => {
    const spec = { rotationDeg: 0, translate: 0.4, seed: 3 };
    const x = tf.tensor(
      Float32Array.from({ length: 50 }, (_, i) => (i % 25) + 1),
      [2, 5, 5, 1],
    );
    const first = await new Augmenter(spec).apply(x).data();
    const again = await new Augmenter(spec).apply(x).data();
    expect(Array.from(again)).toEqual(Array.from(first));
    const other = await new Augmenter({ ...spec, seed: 4 }).apply(x).data();
    expect(Array.from(other)).not.toEqual(Array.from(first));
    // Shifted: the sum of pixel values does not grow, and some went off the edge (zeros came in).
    const total = (v: ArrayLike<number>) => Array.from(v).reduce((s, t) => s + t, 0);
    expect(total(first)).toBeLessThan(total(await x.data()));
    x.dispose();
  });

  it('refuses a tensor that is not a batch of images', () => {
    const a = new Augmenter({ rotationDeg: 5, translate: 0, seed: 0 });
    const x = tf.zeros([2, 25]);
    expect(() => a.apply(x)).toThrow(/images/);
    x.dispose();
  });
});
