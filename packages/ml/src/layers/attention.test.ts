import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTf } from '../backend.ts';
import { CausalSelfAttention } from './attention.ts';

beforeAll(async () => {
  await initTf();
});

const [BATCH, T, D, HEADS] = [2, 5, 8, 2];
const random = (seed: number): tf.Tensor3D =>
  tf.randomNormal([BATCH, T, D], 0, 1, 'float32', seed) as tf.Tensor3D;

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => a.sub(b).abs().max().dataSync()[0]!);
}

/** Attention written out per example and head with 2-D tf ops, the mask built entry by entry. */
function byHand(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D): tf.Tensor3D {
  const size = D / HEADS;
  const mask: number[][] = [];
  for (let i = 0; i < T; i++) mask.push(Array.from({ length: T }, (_, j) => (j <= i ? 0 : -Infinity)));
  const examples: tf.Tensor2D[] = [];
  for (let b = 0; b < BATCH; b++) {
    const heads: tf.Tensor2D[] = [];
    for (let h = 0; h < HEADS; h++) {
      const part = (t: tf.Tensor3D): tf.Tensor2D =>
        t.slice([b, 0, h * size], [1, T, size]).reshape([T, size]);
      const scores = tf.matMul(part(q), part(k).transpose()).div(Math.sqrt(size)).add(tf.tensor2d(mask));
      heads.push(tf.matMul(tf.softmax(scores), part(v)));
    }
    examples.push(tf.concat(heads, 1));
  }
  return tf.stack(examples) as tf.Tensor3D;
}

describe('the CausalSelfAttention layer', () => {
  it('computes softmax(q k^T / sqrt(d_head) + causal mask) v per head, heads concatenated', () => {
    const [q, k, v] = [random(1), random(2), random(3)];
    const layer = new CausalSelfAttention({ heads: HEADS });
    const out = layer.apply([q, k, v]) as tf.Tensor;
    expect(out.shape).toEqual([BATCH, T, D]);
    expect(maxDiff(out, byHand(q, k, v))).toBeLessThan(1e-5);
  });

  it('is causal: the output at position t does not change when inputs after t change', () => {
    const layer = new CausalSelfAttention({ heads: HEADS });
    const [q, k, v] = [random(4), random(5), random(6)];
    const t = 2;
    // Inputs after position t replaced by other values.
    const later = (x: tf.Tensor3D, seed: number): tf.Tensor3D =>
      tf.concat(
        [
          x.slice([0, 0, 0], [BATCH, t + 1, D]),
          tf.randomNormal([BATCH, T - t - 1, D], 0, 1, 'float32', seed),
        ],
        1,
      );
    const a = layer.apply([q, k, v]) as tf.Tensor;
    const b = layer.apply([later(q, 7), later(k, 8), later(v, 9)]) as tf.Tensor;
    const upTo = (x: tf.Tensor): tf.Tensor => x.slice([0, 0, 0], [BATCH, t + 1, D]);
    expect(maxDiff(upTo(a), upTo(b))).toBe(0);
    // ... and position t + 1 sees them.
    expect(maxDiff(a, b)).toBeGreaterThan(0.01);
  });

  it('refuses heads that do not divide the width, and round-trips its config', () => {
    expect(() => new CausalSelfAttention({ heads: 0 })).toThrow(/"heads" expected an integer/);
    const layer = new CausalSelfAttention({ heads: 3 });
    expect(() => layer.apply([random(1), random(2), random(3)])).toThrow(/multiple of "heads"/);
    expect(new CausalSelfAttention({ heads: 4 }).getConfig()).toMatchObject({ heads: 4 });
  });
});
