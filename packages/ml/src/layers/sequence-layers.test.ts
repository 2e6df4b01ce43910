import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTf } from '../backend.ts';
import { LastPosition } from './last-position.ts';
import { LayerNorm } from './layer-norm.ts';
import { PositionEmbedding } from './position-embedding.ts';

beforeAll(async () => {
  await initTf();
});

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => a.sub(b).abs().max().dataSync()[0]!);
}

describe('the LayerNorm, PositionEmbedding and LastPosition layers', () => {
  it('LayerNorm computes what tfjs LayerNormalization does, gamma and beta included', () => {
    const x = tf.randomNormal([3, 4, 6], 2, 3, 'float32', 1);
    const ours = new LayerNorm({ epsilon: 1e-3 });
    const theirs = tf.layers.layerNormalization({ epsilon: 1e-3 });
    ours.apply(x);
    theirs.apply(x);
    const gamma = tf.randomNormal([6], 1, 0.5, 'float32', 2);
    const beta = tf.randomNormal([6], 0, 0.5, 'float32', 3);
    ours.setWeights([gamma, beta]);
    theirs.setWeights([gamma, beta]);
    expect(maxDiff(ours.apply(x) as tf.Tensor, theirs.apply(x) as tf.Tensor)).toBeLessThan(1e-5);
    expect(() => new LayerNorm({ epsilon: 0 })).toThrow(/"epsilon" expected a positive number/);
  });

  it('PositionEmbedding adds one learned vector per position, seeded', () => {
    const x = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 4);
    const layer = new PositionEmbedding({ seed: 5, stddev: 0.5 });
    const out = layer.apply(x) as tf.Tensor;
    const [table] = layer.getWeights();
    expect(table!.shape).toEqual([3, 4]);
    expect(maxDiff(out, x.add(table!.expandDims(0)))).toBe(0);
    const again = new PositionEmbedding({ seed: 5, stddev: 0.5 });
    again.apply(x);
    expect(maxDiff(again.getWeights()[0]!, table!)).toBe(0);
    expect(() => new PositionEmbedding({ stddev: -1 })).toThrow(/"stddev" expected a positive number/);
  });

  it('LastPosition takes the last position of each sequence', () => {
    const x = tf.tensor3d([
      [
        [1, 2],
        [3, 4],
      ],
      [
        [5, 6],
        [7, 8],
      ],
    ]);
    expect((new LastPosition().apply(x) as tf.Tensor).arraySync()).toEqual([
      [3, 4],
      [7, 8],
    ]);
  });
});
