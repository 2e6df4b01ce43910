import { readFileSync } from 'node:fs';
import { type NextCharPresentation, seededRng, validateTaskSpec } from '@pollen/fl-core';
import {
  arraySource,
  bytesToBase64,
  encodeText,
  evaluate,
  initTf,
  type NextCharTransformerOptions,
  nextCharTransformer,
  permutation,
} from '@pollen/ml';
import * as tf from '@tensorflow/tfjs';
import { builtinTaskFile } from '../task-file.ts';
import { builtinBaselines, builtinSplit } from './builtin.ts';
import { loadBrown } from './text-corpora.ts';
import { brownHeldOut, inBrownPart } from './text-split.ts';

/** The transformer's size, less what the task decides (the alphabet) and the seed. */
export type TransformerSize = Pick<
  NextCharTransformerOptions,
  'context' | 'width' | 'heads' | 'blocks' | 'ffn'
>;

/** How `pnpm pretrain next-char` trains the base model. */
export interface PretrainOptions {
  readonly size: TransformerSize;
  /** Seeds the initialization and the order of the training windows. */
  readonly seed: number;
  readonly steps: number;
  /** Windows of `context` characters a step, each predicting its every next character. */
  readonly batchSize: number;
  /** Adam's learning rate, decayed linearly to a tenth of it over the steps. */
  readonly learningRate: number;
  /** Called with a line of progress now and then. */
  readonly log?: (line: string) => void;
}

/** The size and schedule the committed next-char-finetune task was pretrained with. */
export const PRETRAIN_DEFAULTS: Omit<PretrainOptions, 'log'> = {
  size: { context: 32, width: 64, heads: 4, blocks: 3, ffn: 256 },
  seed: 1,
  steps: 600,
  batchSize: 32,
  learningRate: 3e-3,
};

/** What pretraining made and measured. */
export interface Pretrained {
  /** The task file of the fine-tuning task: the pretrained transformer on the fine-tuning part. */
  readonly task: Record<string, unknown>;
  readonly params: number;
  readonly seconds: number;
  /** Mean cross-entropy per predicted character over the last tenth of the steps. */
  readonly trainLoss: number;
  /** The task's metrics on the fine-tuning part's held-out examples. */
  readonly heldOut: Record<string, number>;
  /** The unigram and bigram baselines on the same examples, fitted on the fine-tuning part's training text. */
  readonly baselines: readonly { readonly name: string; readonly metrics: Record<string, number> }[];
}

/**
 * Training windows of the pretraining part: every `context` characters of its training
 * documents (never a held-out one), each with the `context` characters that follow them one
 * position on. Each document is padded on the left with id 0 as a task's examples are, so the
 * windows at a document's start look like the examples a device makes there.
 */
function pretrainWindows(coding: NextCharPresentation): { count: number; x: Int32Array; y: Int32Array } {
  const n = coding.context;
  const texts = loadBrown()
    .map((doc, i) => ({ doc, i }))
    .filter(({ doc, i }) => inBrownPart(doc.genre, 'pretrain') && !brownHeldOut(i))
    .map(({ doc }) => {
      const ids = encodeText(doc.text, coding);
      const padded = new Int32Array(n + ids.length);
      padded.set(ids, n);
      return padded;
    });
  const count = texts.reduce((c, t) => c + t.length - n, 0);
  const x = new Int32Array(count * n);
  const y = new Int32Array(count * n);
  let at = 0;
  for (const t of texts) {
    for (let s = 0; s + n < t.length; s++, at++) {
      x.set(t.subarray(s, s + n), at * n);
      y.set(t.subarray(s + 1, s + n + 1), at * n);
    }
  }
  return { count, x, y };
}

/**
 * Cross-entropy of `probs` [batch, T, V] at the ids `y` [batch, T], averaged over the
 * characters a model should predict: id 0 (padding, or a character outside the alphabet) is
 * not one, as in a task's examples.
 */
function maskedLoss(probs: tf.Tensor, y: tf.Tensor2D, vocab: number): tf.Scalar {
  return tf.tidy(() => {
    const mask = y.notEqual(0).toFloat();
    const picked = probs.mul(tf.oneHot(y, vocab)).sum(-1);
    const nll = picked.clipByValue(1e-7, 1).log().neg();
    return nll.mul(mask).sum().div(mask.sum().maximum(1)) as tf.Scalar;
  });
}

/** The built-in next-char task file, the fields the fine-tuning task shares with it. */
function nextCharTaskFile(): Record<string, unknown> {
  return JSON.parse(readFileSync(builtinTaskFile('next-char'), 'utf8')) as Record<string, unknown>;
}

/** The model as a task file's `model`: its topology and its weights as initial weights. */
async function taskModel(model: tf.LayersModel): Promise<Record<string, unknown>> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const data = artifacts!.weightData as ArrayBuffer;
  return {
    topology: artifacts!.modelTopology,
    weights: {
      specs: artifacts!.weightSpecs!.map((s) => ({ name: s.name, shape: s.shape, dtype: s.dtype })),
      data: bytesToBase64(new Uint8Array(data)),
    },
  };
}

/**
 * The fine-tuning task's fields, the model aside: the next-char task's alphabet, metrics and
 * rounds, the transformer's context, and the fine-tuning part of Brown, one client per
 * training document.
 */
function fineTuneTask(context: number, numShards: number): Record<string, unknown> {
  const base = nextCharTaskFile();
  return {
    id: 'next-char-finetune',
    name: 'Next character, a pretrained transformer fine-tuned (Brown corpus)',
    description:
      'A small transformer pretrained on five genres of the Brown corpus (editorials, reviews, religion, government, learned writing) and fine-tuned across devices on the other ten, one document per device.',
    owner: base.owner,
    model: { topology: {} },
    input: { shape: [context], dtype: 'uint8' },
    target: base.target,
    loss: base.loss,
    metrics: base.metrics,
    presentation: { ...(base.presentation as object), context },
    data: { builtin: 'brown', part: 'fine-tune', partition: { kind: 'natural' }, numShards, seed: 1 },
    // Adam at 0.001 moves a pretrained weight too far in a round's first steps (docs/tasks.md).
    training: { epochs: 1, batchSize: 32, learningRate: 0.0001, optimizer: 'adam' },
    rounds: { ...(base.rounds as object), deadlineMs: 120_000 },
    codec: base.codec,
    maxUpdateNorm: base.maxUpdateNorm,
  };
}

/**
 * Pretrain the next-char transformer centrally on Brown's pretraining genres (tfjs on this
 * process' backend: WASM, else CPU), deterministic from the seed: the initialization is
 * seeded and so is the order of the windows. Every position of a window is trained on (the
 * `every` output); the task's model predicts at the last position with the same weights.
 * Returns the fine-tuning task with the pretrained weights as its initial weights, scored on
 * the fine-tuning part's held-out examples beside the n-gram baselines.
 */
export async function pretrainNextChar(options: PretrainOptions): Promise<Pretrained> {
  await initTf();
  const log = options.log ?? (() => {});
  const { size, seed, steps, batchSize } = options;
  // The task's data and coding; its shard count, known once the split is, does not change them.
  const draft = validateTaskSpec(fineTuneTask(size.context, 1));
  const coding = draft.presentation as NextCharPresentation;
  const vocab = [...coding.alphabet].length + 1;
  const build = (output: 'last' | 'every') =>
    nextCharTransformer({ ...size, alphabetSize: vocab, seed, output });

  const windows = pretrainWindows(coding);
  const random = seededRng(seed);
  let order = permutation(windows.count, random);
  let next = 0;
  const n = size.context;
  const batch = (): { x: tf.Tensor2D; y: tf.Tensor2D } => {
    const x = new Int32Array(batchSize * n);
    const y = new Int32Array(batchSize * n);
    for (let b = 0; b < batchSize; b++) {
      if (next === order.length) {
        order = permutation(windows.count, random);
        next = 0;
      }
      const w = order[next++]!;
      x.set(windows.x.subarray(w * n, (w + 1) * n), b * n);
      y.set(windows.y.subarray(w * n, (w + 1) * n), b * n);
    }
    return { x: tf.tensor2d(x, [batchSize, n], 'float32'), y: tf.tensor2d(y, [batchSize, n], 'int32') };
  };

  const every = build('every');
  const optimizer = tf.train.adam(options.learningRate);
  const started = performance.now();
  const lastLosses: number[] = [];
  log(
    `${every.countParams()} weights; ${windows.count} windows of ${n} characters; ${steps} steps of ${batchSize}`,
  );
  for (let step = 0; step < steps; step++) {
    // Linear decay to a tenth: larger steps early, settling late (Adam reads its rate each step).
    (optimizer as unknown as { learningRate: number }).learningRate =
      options.learningRate * (1 - (0.9 * step) / Math.max(1, steps));
    const { x, y } = batch();
    const loss = optimizer.minimize(() => maskedLoss(every.apply(x) as tf.Tensor, y, vocab), true)!;
    const value = (await loss.data())[0]!;
    tf.dispose([x, y, loss]);
    if (step >= steps - Math.max(1, Math.floor(steps / 10))) lastLosses.push(value);
    if ((step + 1) % 50 === 0 || step + 1 === steps) {
      const seconds = (performance.now() - started) / 1000;
      log(`step ${step + 1}/${steps}: loss ${value.toFixed(3)} (${seconds.toFixed(0)} s)`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  optimizer.dispose();

  const model = build('last');
  model.setWeights(every.getWeights());
  every.dispose();
  const split = builtinSplit(draft)!;
  const task = fineTuneTask(size.context, new Set(split.groups).size);
  const spec = validateTaskSpec(task);
  const heldOut = await evaluate(model, arraySource(spec, split.test), spec);
  const file = { ...task, model: await taskModel(model) };
  const params = model.countParams();
  model.dispose();
  return {
    task: file,
    params,
    seconds,
    trainLoss: lastLosses.reduce((a, b) => a + b, 0) / lastLosses.length,
    heldOut: heldOut as Record<string, number>,
    baselines: builtinBaselines(spec),
  };
}
