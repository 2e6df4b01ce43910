import {
  type ClientMetrics,
  scaffoldClientUpdate,
  scaffoldCorrection,
  type TrainingSpec,
} from '@pollen/fl-core';
import * as tf from '@tensorflow/tfjs';

/**
 * Local training, shared by the browser's training worker and the Node simulations so both
 * run the same math: load the global weights, train on local examples, return the delta.
 * Plain FedAvg uses `model.fit`; FedProx and SCAFFOLD change every gradient, so they run a
 * loop of their own (tf.variableGrads, then optimizer.applyGradients per mini-batch).
 * Only tfjs here: no DOM, no IndexedDB, no sockets.
 */

export interface LocalData {
  readonly xs: tf.Tensor;
  readonly ys: tf.Tensor;
  readonly count: number;
}

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
}

export interface LocalResult {
  /** w_local - w_global. */
  readonly delta: Float32Array;
  readonly numExamples: number;
  readonly metrics: ClientMetrics;
  /** Local optimizer steps taken: mini-batches over all epochs. */
  readonly steps: number;
  /** SCAFFOLD: c_i+ to keep on the device once the round commits, and Delta c_i to send. */
  readonly scaffold?: { readonly ci: Float32Array; readonly deltaC: Float32Array };
}

/** Build a Layers model from its topology (the `modelTopology` of a model.json). */
export function buildModel(modelTopology: Record<string, unknown>): Promise<tf.LayersModel> {
  return tf.models.modelFromJSON({ modelTopology } as never);
}

/** Load a flat vector into a model's weights, in the model's weight order. */
export function setFlatWeights(model: tf.LayersModel, vector: Float32Array): void {
  const sizes = model.weights.map((w) => w.shape.reduce<number>((a, b) => a * (b ?? 1), 1));
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total !== vector.length) throw new Error(`model has ${total} weights, the vector ${vector.length}`);
  let offset = 0;
  const tensors = model.weights.map((w, i) => {
    const t = tf.tensor(vector.subarray(offset, offset + sizes[i]!), w.shape as number[]);
    offset += sizes[i]!;
    return t;
  });
  model.setWeights(tensors);
  tf.dispose(tensors);
}

/** A model's weights as one flat vector (read with `data()`, which is fast on WebGPU). */
export async function getFlatWeights(model: tf.LayersModel): Promise<Float32Array> {
  const parts = await Promise.all(model.getWeights().map((w) => w.data() as Promise<Float32Array>));
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Labelled 0..255 pixels as normalised input and one-hot label tensors. */
export function toTensors(
  pixels: ArrayLike<number>,
  labels: ArrayLike<number>,
  inputShape: readonly number[],
  numClasses: number,
): LocalData {
  const count = labels.length;
  const xs = tf.tidy(() => tf.tensor(Float32Array.from(pixels), [count, ...inputShape]).div(255));
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from(labels), 'int32'), numClasses).toFloat());
  return { xs, ys, count };
}

/**
 * Train the model, starting from the global weights, on local data for the round's
 * hyper-parameters and strategy, and return the update. Tensors it makes are disposed before
 * it returns.
 */
export async function trainLocal(
  model: tf.LayersModel,
  data: LocalData,
  global: Float32Array,
  training: TrainingSpec,
  onProgress?: (p: Progress) => void,
  strategy: LocalStrategyInput = {},
): Promise<LocalResult> {
  const mu = strategy.proximalMu ?? 0;
  if (!Number.isFinite(mu) || mu < 0) throw new Error(`proximal mu must be >= 0, got ${mu}`);
  if (mu > 0 || strategy.scaffold) return trainCorrected(model, data, global, training, strategy, onProgress);
  const started = performance.now();
  setFlatWeights(model, global);
  const { epochs, batchSize, learningRate, optimizer } = training;
  const opt = optimizer === 'adam' ? tf.train.adam(learningRate) : tf.train.sgd(learningRate);
  model.compile({ optimizer: opt, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const batches = Math.ceil(data.count / batchSize);
  let epoch = 0;
  const history = await model.fit(data.xs, data.ys, {
    epochs,
    batchSize,
    shuffle: true,
    verbose: 0,
    callbacks: onProgress
      ? {
          onEpochBegin: async (e) => {
            epoch = e;
          },
          onBatchEnd: async (batch, logs) => {
            onProgress({ epoch, epochs, batch: batch + 1, batches, loss: logs?.loss ?? 0 });
          },
        }
      : undefined,
  });
  const local = await getFlatWeights(model);
  opt.dispose();
  const delta = new Float32Array(global.length);
  for (let i = 0; i < delta.length; i++) delta[i] = local[i]! - global[i]!;
  const last = (name: string): number => {
    const series = history.history[name];
    const value = Number(series?.[series.length - 1] ?? 0);
    return Number.isFinite(value) ? value : 0;
  };
  return {
    delta,
    numExamples: data.count,
    metrics: {
      metrics: { loss: last('loss'), accuracy: Math.min(1, Math.max(0, last('acc') || last('accuracy'))) },
      trainMs: performance.now() - started,
    },
    steps: epochs * batches,
  };
}

/** A trainable variable and where its values sit in the flat weight vector. */
interface Slot {
  readonly variable: tf.Variable;
  readonly offset: number;
  readonly size: number;
}

function trainableSlots(model: tf.LayersModel): Slot[] {
  const all = model.weights;
  const offsets: number[] = [];
  let offset = 0;
  for (const w of all) {
    offsets.push(offset);
    offset += w.shape.reduce<number>((a, b) => a * (b ?? 1), 1);
  }
  return model.trainableWeights.map((w) => {
    const i = all.indexOf(w);
    if (i < 0) throw new Error(`trainable weight ${w.name} is not among the model's weights`);
    const size = w.shape.reduce<number>((a, b) => a * (b ?? 1), 1);
    return { variable: w.read() as tf.Variable, offset: offsets[i]!, size };
  });
}

/** One tensor per slot holding that slot's part of a flat vector. */
function perSlot(slots: readonly Slot[], vector: Float32Array): tf.Tensor[] {
  return slots.map((s) => tf.tensor(vector.subarray(s.offset, s.offset + s.size), s.variable.shape));
}

/**
 * The loop FedProx and SCAFFOLD need: per mini-batch, the cross-entropy's gradients
 * (tf.variableGrads), plus mu * (w - w_global) (Li et al. 2020, the proximal term's gradient)
 * and c - c_i (Karimireddy et al. 2020, Algorithm 1, line 10), applied by the round's optimizer.
 * Shuffles every epoch like `model.fit`; metrics are the last epoch's, like `model.fit`'s.
 */
async function trainCorrected(
  model: tf.LayersModel,
  data: LocalData,
  global: Float32Array,
  training: TrainingSpec,
  strategy: LocalStrategyInput,
  onProgress?: (p: Progress) => void,
): Promise<LocalResult> {
  const started = performance.now();
  const { epochs, batchSize, learningRate } = training;
  const mu = strategy.proximalMu ?? 0;
  const { scaffold } = strategy;
  if (scaffold && training.optimizer !== 'sgd') throw new Error('SCAFFOLD needs plain SGD on the client');
  setFlatWeights(model, global);
  const slots = trainableSlots(model);
  const vars = slots.map((s) => s.variable);
  // Constant through the round: w_global per variable for the proximal term, c - c_i for SCAFFOLD.
  const anchors = mu > 0 ? perSlot(slots, global) : null;
  const corrections = scaffold ? perSlot(slots, scaffoldCorrection(scaffold.c, scaffold.ci)) : null;
  const opt = training.optimizer === 'adam' ? tf.train.adam(learningRate) : tf.train.sgd(learningRate);
  const batches = Math.ceil(data.count / batchSize);
  let lossSum = 0;
  let correct = 0;
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      const order = tf.util.createShuffledIndices(data.count);
      lossSum = 0;
      correct = 0;
      for (let batch = 0; batch < batches; batch++) {
        const picked = Int32Array.from(order.subarray(batch * batchSize, (batch + 1) * batchSize));
        const [xb, yb] = tf.tidy(() => {
          const idx = tf.tensor1d(picked, 'int32');
          return [tf.gather(data.xs, idx), tf.gather(data.ys, idx)];
        });
        let hits: tf.Tensor | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const probs = model.apply(xb!, { training: true }) as tf.Tensor;
          hits = tf.keep(probs.argMax(-1).equal(yb!.argMax(-1)).sum());
          return tf.metrics.categoricalCrossentropy(yb!, probs).mean() as tf.Scalar;
        }, vars);
        const corrected = tf.tidy(() =>
          slots.map((s, j) => {
            let g = grads[s.variable.name]!;
            if (corrections) g = g.add(corrections[j]!);
            if (anchors) g = g.add(s.variable.sub(anchors[j]!).mul(mu));
            return g;
          }),
        );
        opt.applyGradients(slots.map((s, j) => ({ name: s.variable.name, tensor: corrected[j]! })));
        const [loss, hit] = await Promise.all([value.data(), hits!.data()]);
        tf.dispose([xb!, yb!, value, hits!, ...Object.values(grads), ...corrected]);
        lossSum += loss[0]! * picked.length;
        correct += hit[0]!;
        onProgress?.({ epoch, epochs, batch: batch + 1, batches, loss: loss[0]! });
      }
    }
  } finally {
    opt.dispose();
    if (anchors) tf.dispose(anchors);
    if (corrections) tf.dispose(corrections);
  }
  const local = await getFlatWeights(model);
  const steps = epochs * batches;
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
  const loss = lossSum / data.count;
  return {
    delta,
    numExamples: data.count,
    metrics: {
      metrics: {
        loss: Number.isFinite(loss) ? loss : 0,
        accuracy: Math.min(1, Math.max(0, correct / data.count)),
      },
      trainMs: performance.now() - started,
    },
    steps,
    ...(control ? { scaffold: control } : {}),
  };
}
