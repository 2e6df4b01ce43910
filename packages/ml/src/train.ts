import {
  type MetricValues,
  scaffoldClientUpdate,
  scaffoldCorrection,
  type TrainingSpec,
} from '@pollen/fl-core';
import * as tf from '@tensorflow/tfjs';
import { Augmenter } from './augment.ts';
import type { ExampleTask } from './examples.ts';
import { batchLoss } from './losses.ts';
import { MetricAccumulator, type ScoreTask } from './metrics.ts';
import { Pacer, realClock, type TrainClock } from './pace.ts';
import { batchTensors } from './preprocess.ts';
import type { BatchSource } from './source.ts';
import { getRoundVector, roundVariables, setRoundVector, type Trainable } from './trainable.ts';

/**
 * Local training, shared by the browser's training worker and the Node simulations so both
 * run the same math: load the global weights, train on local examples, return the delta.
 * One loop serves FedAvg, FedProx and SCAFFOLD: per mini-batch, the task loss's gradients
 * (tf.variableGrads), corrected as the strategy says, applied by the round's optimizer.
 */

/** The parts of a task training needs. */
export type TrainTask = ExampleTask & ScoreTask;

export interface Progress {
  readonly epoch: number;
  readonly epochs: number;
  readonly batch: number;
  readonly batches: number;
  readonly loss: number;
}

/** What the task's strategy asks of local training beyond plain FedAvg. */
export interface LocalStrategyInput {
  /** FedProx's mu (Li et al. 2020): adds mu/2 * ||w - w_global||^2 to the loss. 0 or absent: off. */
  readonly proximalMu?: number;
  /**
   * SCAFFOLD (Karimireddy et al. 2020): the server's control variate c and this client's c_i
   * (zeros on its first round). Needs plain SGD.
   */
  readonly scaffold?: { readonly c: Float32Array; readonly ci: Float32Array };
  /**
   * Which weights the round's vectors hold (trainable.ts): every weight (default), or only the
   * trainable ones of a model that freezes some; `global`, the update and SCAFFOLD's controls
   * are then in that layout, and the frozen weights are left as the model holds them.
   */
  readonly trainable?: Trainable;
}

/** What the device adds to the round's instructions. */
export interface LocalDeviceInput {
  /** Where time comes from (default the real clock): the time budget and the pauses read it. */
  readonly clock?: TrainClock;
  /** The visitor's CPU share in (0, 1]; the lower of it and the task's `training.cpuShare` holds. */
  readonly cpuShare?: number;
  /** Seed of the augmentation's draws (default the task's `training.augmentation.seed`). */
  readonly augmentationSeed?: number;
}

export interface LocalResult {
  /** w_local - w_global. */
  readonly delta: Float32Array;
  readonly numExamples: number;
  /** The last epoch's loss and the task's metrics, on the batches as they were trained. */
  readonly metrics: MetricValues;
  /** Milliseconds spent training. */
  readonly trainMs: number;
  /** Local optimizer steps taken: mini-batches over all epochs (fewer when the time budget ended training). */
  readonly steps: number;
  /** Epochs begun (the last may be partial when the time budget ended training). */
  readonly epochs: number;
  /** Whether the time budget ended training before `training.epochs` epochs. */
  readonly budgetHit: boolean;
  /** SCAFFOLD: c_i+ to keep on the device once the round commits, and Delta c_i to send. */
  readonly scaffold?: { readonly ci: Float32Array; readonly deltaC: Float32Array };
}

/** A trainable variable and where its values sit in the flat weight vector. */
interface Slot {
  readonly variable: tf.Variable;
  readonly offset: number;
  readonly size: number;
}

function trainableSlots(model: tf.LayersModel, all: readonly tf.LayerVariable[]): Slot[] {
  const offsets: number[] = [];
  let offset = 0;
  for (const w of all) {
    offsets.push(offset);
    offset += w.shape.reduce<number>((a, b) => a * (b ?? 1), 1);
  }
  return model.trainableWeights.map((w) => {
    const i = all.indexOf(w);
    if (i < 0) throw new Error(`trainable weight ${w.name} is not among the round's weights`);
    const size = w.shape.reduce<number>((a, b) => a * (b ?? 1), 1);
    return { variable: w.read() as tf.Variable, offset: offsets[i]!, size };
  });
}

/** One tensor per slot holding that slot's part of a flat vector. */
function perSlot(slots: readonly Slot[], vector: Float32Array): tf.Tensor[] {
  return slots.map((s) => tf.tensor(vector.subarray(s.offset, s.offset + s.size), s.variable.shape));
}

/** Dispose tensors, some perhaps disposed already or forgotten with a lost backend's engine state. */
function disposeAll(tensors: readonly tf.Tensor[]): void {
  for (const t of tensors) {
    try {
      if (!t.isDisposed) t.dispose();
    } catch {
      // Its backend is gone, and its memory with it.
    }
  }
}

/**
 * Train the model, starting from the global weights, on a batch source for the round's
 * hyper-parameters and strategy, and return the update. With `training.timeBudgetMs` it trains
 * until that much time passed (by `device.clock`, pauses included) or `epochs` epochs are done,
 * whichever comes first, and at least one step; `steps` says how many it took. Below a CPU
 * share of 1 it pauses after each mini-batch (pace.ts). With `training.augmentation` each
 * batch's images are rotated and shifted afresh (augment.ts). Per mini-batch: the task loss's
 * gradients, plus mu * (w - w_global) (Li et al. 2020, the proximal term's gradient) and
 * c - c_i (Karimireddy et al. 2020, Algorithm 1, line 10). Shuffles every epoch; metrics are
 * the last epoch's, like `model.fit`'s. Tensors it makes are disposed before it returns.
 */
export async function trainLocal(
  model: tf.LayersModel,
  source: BatchSource,
  global: Float32Array,
  training: TrainingSpec,
  task: TrainTask,
  onProgress?: (p: Progress) => void,
  strategy: LocalStrategyInput = {},
  device: LocalDeviceInput = {},
): Promise<LocalResult> {
  const clock = device.clock ?? realClock;
  const started = clock.now();
  const { epochs, batchSize, learningRate } = training;
  const budget = training.timeBudgetMs;
  const share = Math.min(training.cpuShare ?? 1, device.cpuShare ?? 1);
  const pacer = share < 1 ? new Pacer(share, clock) : null;
  const augmenter = training.augmentation
    ? new Augmenter(training.augmentation, device.augmentationSeed ?? training.augmentation.seed)
    : null;
  const mu = strategy.proximalMu ?? 0;
  if (!Number.isFinite(mu) || mu < 0) throw new Error(`proximal mu must be >= 0, got ${mu}`);
  const { scaffold } = strategy;
  if (scaffold && training.optimizer !== 'sgd') throw new Error('SCAFFOLD needs plain SGD on the client');
  if (source.count === 0) throw new Error('no local examples to train on');
  const trainable = strategy.trainable ?? { kind: 'all' };
  const round = roundVariables(model, trainable);
  setRoundVector(model, trainable, global);
  const slots = trainableSlots(model, round);
  const vars = slots.map((s) => s.variable);
  // Constant through the round: w_global per variable for the proximal term, c - c_i for SCAFFOLD.
  const anchors = mu > 0 ? perSlot(slots, global) : null;
  const corrections = scaffold ? perSlot(slots, scaffoldCorrection(scaffold.c, scaffold.ci)) : null;
  const opt = training.optimizer === 'adam' ? tf.train.adam(learningRate) : tf.train.sgd(learningRate);
  const batches = Math.ceil(source.count / batchSize);
  let metrics = new MetricAccumulator(task);
  let steps = 0;
  let epochsBegun = 0;
  let budgetHit = false;
  const outOfTime = (): boolean => budget !== undefined && steps > 0 && clock.now() - started >= budget;
  try {
    for (let epoch = 0; epoch < epochs && !budgetHit; epoch++) {
      if (outOfTime()) {
        budgetHit = true;
        break;
      }
      // Under a time budget any epoch may be the last: each one scores the task's metrics.
      const last = epoch === epochs - 1 || budget !== undefined;
      metrics = new MetricAccumulator(last ? task : { ...task, metrics: [] });
      epochsBegun++;
      let batch = 0;
      for await (const set of source.batches(batchSize, true)) {
        // Checked between batches, so a partial epoch still has metrics to report.
        if (batch > 0 && outOfTime()) {
          budgetHit = true;
          break;
        }
        // Everything a batch makes is disposed however the batch ends: a step that throws (a
        // GPU device lost mid-round) must not leave its tensors on the backend trained on next.
        const held: tf.Tensor[] = [];
        let loss: number;
        try {
          const batchXs = batchTensors(set, task);
          held.push(batchXs.xs, batchXs.ys);
          const xs = augmenter?.active ? augmenter.apply(batchXs.xs) : batchXs.xs;
          held.push(xs);
          const { ys } = batchXs;
          let predictions: tf.Tensor | undefined;
          const { value, grads } = tf.variableGrads(() => {
            const out = model.apply(xs, { training: true }) as tf.Tensor;
            predictions = tf.keep(out);
            return batchLoss(task, ys, out);
          }, vars);
          held.push(value, predictions!, ...Object.values(grads));
          const corrected = tf.tidy(() =>
            slots.map((s, j) => {
              let g = grads[s.variable.name]!;
              if (corrections) g = g.add(corrections[j]!);
              if (anchors) g = g.add(s.variable.sub(anchors[j]!).mul(mu));
              return g;
            }),
          );
          held.push(...corrected);
          opt.applyGradients(slots.map((s, j) => ({ name: s.variable.name, tensor: corrected[j]! })));
          loss = (await value.data())[0]!;
          await metrics.add(ys, predictions!, loss);
        } finally {
          disposeAll(held);
        }
        batch++;
        steps++;
        onProgress?.({ epoch, epochs, batch, batches, loss });
        await pacer?.rest();
      }
    }
  } finally {
    opt.dispose();
    if (anchors) tf.dispose(anchors);
    if (corrections) tf.dispose(corrections);
  }
  const local = await getRoundVector(model, trainable);
  let delta: Float32Array;
  let control: LocalResult['scaffold'];
  if (scaffold) {
    // Option II: c_i+ = c_i - c + (x - y_i) / (K * lr), from the K steps just taken.
    const update = scaffoldClientUpdate({
      c: scaffold.c,
      ci: scaffold.ci,
      x: global,
      y: local,
      steps,
      lr: learningRate,
    });
    delta = update.deltaY;
    control = { ci: update.ci, deltaC: update.deltaC };
  } else {
    delta = new Float32Array(global.length);
    for (let i = 0; i < delta.length; i++) delta[i] = local[i]! - global[i]!;
  }
  return {
    delta,
    numExamples: source.count,
    metrics: metrics.result(),
    trainMs: clock.now() - started,
    steps,
    epochs: epochsBegun,
    budgetHit,
    ...(control ? { scaffold: control } : {}),
  };
}
