import { type MetricSpec, type MetricValues, metricKey, type TargetSpec } from '@pollen/fl-core';
import * as tf from '@tensorflow/tfjs';
import { batchLoss, crossEntropyPerItem, type LossTask } from './losses.ts';

/** The parts of a task evaluation needs. */
export interface ScoreTask extends LossTask {
  readonly metrics: readonly MetricSpec[];
}

/**
 * Area under the ROC curve of scores against 0/1 labels, by ranks (the Mann-Whitney U
 * statistic divided by nPos * nNeg; Hanley & McNeil 1982): tied scores share their mean rank,
 * so a tie counts one half. Undefined (NaN) without both a positive and a negative.
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let rankSumPos = 0;
  let positives = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const meanRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]!]! > 0.5) {
        rankSumPos += meanRank;
        positives++;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSumPos - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Items scored per example: positions of a sequence, flags of a multilabel target, values of a regression. */
function itemsPerExample(target: TargetSpec, predictions: tf.Tensor): number {
  const shape = predictions.shape.slice(1);
  if (target.kind === 'class') return 1;
  if (target.kind === 'sequence') return shape[0] ?? 1;
  return shape.reduce<number>((a, b) => a * (b ?? 1), 1);
}

/**
 * Sums over batches that become a task's {@link MetricValues}: the loss (example-weighted mean
 * of batch means), accuracy, top-k accuracy, MSE/MAE/RMSE, perplexity (exp of the mean
 * cross-entropy per token) and ROC AUC (on every score, kept until the end).
 */
export class MetricAccumulator {
  private examples = 0;
  private items = 0;
  private lossSum = 0;
  private hits = 0;
  private readonly topHits = new Map<number, number>();
  private squared = 0;
  private absolute = 0;
  private crossEntropy = 0;
  private readonly scores: number[] = [];
  private readonly flags: number[] = [];
  private readonly wants: Set<string>;

  constructor(private readonly task: ScoreTask) {
    this.wants = new Set(task.metrics.map((m) => (typeof m === 'string' ? m : m.name)));
  }

  /** Add one batch: labels as targetTensor makes them, the model's predictions. Disposes nothing given. */
  async add(labels: tf.Tensor, predictions: tf.Tensor, loss?: number): Promise<void> {
    const count = predictions.shape[0]!;
    const items = itemsPerExample(this.task.target, predictions);
    const { target } = this.task;
    const scalars = tf.tidy(() => {
      const out: Record<string, tf.Tensor> = {};
      if (loss === undefined) out.loss = batchLoss(this.task, labels, predictions);
      if (this.wants.has('accuracy')) {
        out.hits =
          target.kind === 'multilabel'
            ? tf.sum(tf.equal(tf.greaterEqual(predictions, 0.5).toFloat(), labels).toFloat())
            : tf.sum(tf.equal(tf.argMax(predictions, -1), labels.toInt()).toFloat());
      }
      if (this.wants.has('mse') || this.wants.has('rmse'))
        out.squared = tf.sum(tf.squaredDifference(predictions, labels));
      if (this.wants.has('mae')) out.absolute = tf.sum(tf.abs(tf.sub(predictions, labels)));
      if (this.wants.has('perplexity')) out.crossEntropy = tf.sum(crossEntropyPerItem(labels, predictions));
      if (this.wants.has('auc')) {
        const score =
          target.kind === 'class' ? predictions.slice([0, 1], [-1, 1]).flatten() : predictions.flatten();
        const flag = target.kind === 'class' ? labels.toFloat().flatten() : labels.flatten();
        out.scores = score;
        out.flags = flag;
      }
      return out;
    });
    const topK = this.task.metrics.filter(
      (m): m is { name: 'topKAccuracy'; k: number } => typeof m !== 'string',
    );
    for (const m of topK) {
      const depth = predictions.shape[predictions.shape.length - 1]!;
      const [flat, ids] = tf.tidy(() => [
        predictions.reshape([-1, depth]) as tf.Tensor2D,
        labels.toInt().flatten() as tf.Tensor1D,
      ]);
      const inTop = await tf.inTopKAsync(flat, ids, m.k);
      const hit = tf.tidy(() => tf.sum(inTop.toFloat()));
      this.topHits.set(m.k, (this.topHits.get(m.k) ?? 0) + (await hit.data())[0]!);
      tf.dispose([flat, ids, inTop, hit]);
    }
    const names = Object.keys(scalars);
    const values = await Promise.all(names.map((k) => scalars[k]!.data()));
    names.forEach((name, i) => {
      const v = values[i]!;
      if (name === 'scores') for (const s of v) this.scores.push(s);
      else if (name === 'flags') for (const f of v) this.flags.push(f);
      else this.addSum(name, v[0]!, count);
    });
    tf.dispose(Object.values(scalars));
    if (loss !== undefined) this.lossSum += loss * count;
    this.examples += count;
    this.items += count * items;
  }

  private addSum(name: string, value: number, count: number): void {
    if (name === 'loss') this.lossSum += value * count;
    else if (name === 'hits') this.hits += value;
    else if (name === 'squared') this.squared += value;
    else if (name === 'absolute') this.absolute += value;
    else if (name === 'crossEntropy') this.crossEntropy += value;
  }

  /** Examples added so far. */
  get count(): number {
    return this.examples;
  }

  /**
   * `loss` plus each declared metric under its {@link metricKey}. A metric with no value
   * (AUC on labels of one kind only, anything on no examples) is left out, never faked.
   */
  result(): MetricValues {
    const out: Record<string, number> = {};
    if (this.examples === 0) return out;
    out.loss = this.lossSum / this.examples;
    const perItem = (v: number): number => v / this.items;
    for (const m of this.task.metrics) {
      const key = metricKey(m);
      let value: number;
      if (typeof m !== 'string') value = perItem(this.topHits.get(m.k) ?? 0);
      else if (m === 'accuracy') value = perItem(this.hits);
      else if (m === 'mse') value = perItem(this.squared);
      else if (m === 'rmse') value = Math.sqrt(perItem(this.squared));
      else if (m === 'mae') value = perItem(this.absolute);
      else if (m === 'perplexity') value = Math.exp(perItem(this.crossEntropy));
      else value = rocAuc(this.scores, this.flags);
      if (Number.isFinite(value)) out[key] = value;
    }
    return out;
  }
}
