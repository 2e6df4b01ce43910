import * as tf from '@tensorflow/tfjs';
import { CausalSelfAttention } from './layers/attention.ts';
import { LastPosition } from './layers/last-position.ts';
import { LayerNorm } from './layers/layer-norm.ts';
import { OneHot } from './layers/one-hot.ts';
import { PositionEmbedding } from './layers/position-embedding.ts';

/** The size of a next-character transformer. */
export interface NextCharTransformerOptions {
  /** Characters of context: the input is [context] ids. */
  readonly context: number;
  /** Ids 0..alphabetSize-1 (the alphabet and id 0); the output is a softmax over them. */
  readonly alphabetSize: number;
  /** The model width d. */
  readonly width: number;
  /** Attention heads per block; `width` must be a multiple. */
  readonly heads: number;
  readonly blocks: number;
  /** Units of each block's feed-forward layer (4 * width in GPT). */
  readonly ffn: number;
  /** Seeds every initializer: the same options build the same weights. */
  readonly seed: number;
  /**
   * `last` (default): the next character after the context, [alphabetSize], a class target.
   * `every`: the next character after each position, [context, alphabetSize], a sequence
   * target; the same layers and weights, without the last-position layer. Pretraining uses it:
   * every position of a window is a training signal.
   */
  readonly output?: 'last' | 'every';
}

function checkSize(o: NextCharTransformerOptions): void {
  const limits = [
    ['context', o.context, 1, 4096],
    ['alphabetSize', o.alphabetSize, 2, 65_536],
    ['width', o.width, 1, 4096],
    ['heads', o.heads, 1, 256],
    ['blocks', o.blocks, 1, 64],
    ['ffn', o.ffn, 1, 16_384],
    ['seed', o.seed, 0, 2 ** 31 - 1],
  ] as const;
  for (const [name, value, min, max] of limits) {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`"${name}" expected an integer in [${min}, ${max}], got ${value}`);
    }
  }
  if (o.width % o.heads !== 0) {
    throw new RangeError(`"width" (${o.width}) expected a multiple of "heads" (${o.heads})`);
  }
}

/**
 * A small decoder-only transformer over characters (Radford et al. 2018; pre-LayerNorm blocks
 * as in GPT-2, Radford et al. 2019): one-hot ids, a Dense embedding (tfjs' Embedding cannot
 * train on WASM), learned positions, `blocks` blocks of causal self-attention and a ReLU
 * feed-forward layer, each behind a LayerNorm (Pollen's: tfjs' trains slowly, see layer-norm.ts) and added back, a final LayerNorm, then a
 * softmax head `next` at the last position. Every projection is a plain Dense layer named by
 * its block (`block0_q`, `block0_k`, `block0_v`, `block0_o`, `block0_ffn1`, `block0_ffn2`),
 * so `withLora` adapts them by name and a saved model loads with Pollen's layers registered.
 */
export function nextCharTransformer(options: NextCharTransformerOptions): tf.LayersModel {
  checkSize(options);
  const { context, alphabetSize, width, heads, blocks, ffn } = options;
  // Seeds of the initializers in build order, so that no two weights start alike.
  let nextSeed = options.seed * 1_000;
  const kernel = (): ReturnType<typeof tf.initializers.glorotUniform> =>
    tf.initializers.glorotUniform({ seed: nextSeed++ });
  const dense = (name: string, units: number, extra: Partial<Parameters<typeof tf.layers.dense>[0]> = {}) =>
    tf.layers.dense({ name, units, kernelInitializer: kernel(), ...extra });
  const norm = (name: string) => new LayerNorm({ name });

  const ids = tf.input({ shape: [context], name: 'ids' });
  const chars = new OneHot({ depth: alphabetSize, name: 'chars' }).apply(ids) as tf.SymbolicTensor;
  const embedded = dense('embed', width, { useBias: false }).apply(chars) as tf.SymbolicTensor;
  let x = new PositionEmbedding({ name: 'position', seed: nextSeed++ }).apply(embedded) as tf.SymbolicTensor;
  for (let b = 0; b < blocks; b++) {
    const at = (name: string) => `block${b}_${name}`;
    const h = norm(at('norm1')).apply(x) as tf.SymbolicTensor;
    const [q, k, v] = ['q', 'k', 'v'].map((n) => dense(at(n), width).apply(h) as tf.SymbolicTensor);
    const attended = new CausalSelfAttention({ name: at('attention'), heads }).apply([q!, k!, v!]);
    const out = dense(at('o'), width).apply(attended) as tf.SymbolicTensor;
    x = tf.layers.add({ name: at('add1') }).apply([x, out]) as tf.SymbolicTensor;
    const h2 = norm(at('norm2')).apply(x) as tf.SymbolicTensor;
    const hidden = dense(at('ffn1'), ffn, { activation: 'relu' }).apply(h2);
    const ff = dense(at('ffn2'), width).apply(hidden) as tf.SymbolicTensor;
    x = tf.layers.add({ name: at('add2') }).apply([x, ff]) as tf.SymbolicTensor;
  }
  x = norm('norm').apply(x) as tf.SymbolicTensor;
  if ((options.output ?? 'last') === 'last')
    x = new LastPosition({ name: 'last' }).apply(x) as tf.SymbolicTensor;
  const next = dense('next', alphabetSize, { activation: 'softmax' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: ids, outputs: next, name: 'next_char_transformer' });
}
