import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTf } from './backend.ts';
import { MetricAccumulator, rocAuc, type ScoreTask } from './metrics.ts';

beforeAll(async () => {
  await initTf();
});

async function score(task: ScoreTask, labels: tf.Tensor, predictions: tf.Tensor) {
  const acc = new MetricAccumulator(task);
  await acc.add(labels, predictions);
  tf.dispose([labels, predictions]);
  return acc.result();
}

describe('ROC AUC', () => {
  it('matches a hand-computed case with a tie', () => {
    // Positives score 0.9, 0.4, 0.35; negatives 0.8, 0.4, 0.1. Pairs (pos > neg): 0.9 beats all
    // three (3); 0.4 beats 0.1 and ties 0.4 (1.5); 0.35 beats 0.1 (1). AUC = 5.5 / 9.
    expect(rocAuc([0.9, 0.8, 0.4, 0.4, 0.35, 0.1], [1, 0, 1, 0, 1, 0])).toBeCloseTo(5.5 / 9, 12);
    expect(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(rocAuc([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0])).toBe(0);
    expect(rocAuc([0.5, 0.5, 0.5], [1, 0, 1])).toBe(0.5);
    expect(rocAuc([0.3, 0.7], [1, 1])).toBeNaN();
  });
});

describe('metrics by name', () => {
  it('scores classes: loss, accuracy, top-k, perplexity and a binary AUC', async () => {
    // Three examples, three classes: right, second-best, wrong.
    const probs = tf.tensor2d([
      [0.7, 0.2, 0.1],
      [0.5, 0.3, 0.2],
      [0.6, 0.3, 0.1],
    ]);
    const labels = tf.tensor1d([0, 1, 2], 'int32');
    const m = await score(
      {
        target: { kind: 'class', numClasses: 3 },
        loss: 'sparseCategoricalCrossentropy',
        metrics: ['accuracy', { name: 'topKAccuracy', k: 2 }, 'perplexity'],
      },
      labels,
      probs,
    );
    const ce = -(Math.log(0.7) + Math.log(0.3) + Math.log(0.1)) / 3;
    expect(m.loss).toBeCloseTo(ce, 5);
    expect(m.accuracy).toBeCloseTo(1 / 3, 6);
    expect(m['topKAccuracy@2']).toBeCloseTo(2 / 3, 6);
    expect(m.perplexity).toBeCloseTo(Math.exp(ce), 4);
    expect(Object.keys(m).sort()).toEqual(['accuracy', 'loss', 'perplexity', 'topKAccuracy@2']);

    const binary = await score(
      { target: { kind: 'class', numClasses: 2 }, loss: 'categoricalCrossentropy', metrics: ['auc'] },
      tf.tensor1d([1, 0, 1, 0], 'int32'),
      tf.tensor2d([
        [0.1, 0.9],
        [0.2, 0.8],
        [0.6, 0.4],
        [0.9, 0.1],
      ]),
    );
    // Positives 0.9, 0.4; negatives 0.8, 0.1: 0.9 beats both, 0.4 beats 0.1 -> 3 / 4.
    expect(binary.auc).toBeCloseTo(0.75, 12);
  });

  it('scores regression: MSE, MAE, RMSE and each loss', async () => {
    const task = (loss: ScoreTask['loss']): ScoreTask => ({
      target: { kind: 'regression', shape: [2] },
      loss,
      metrics: ['mse', 'mae', 'rmse'],
    });
    // Errors: 1, -2, 0.5, 0.
    const y = () =>
      tf.tensor2d([
        [1, 2],
        [3, 4],
      ]);
    const p = () =>
      tf.tensor2d([
        [2, 0],
        [3.5, 4],
      ]);
    const mse = await score(task('meanSquaredError'), y(), p());
    expect(mse.loss).toBeCloseTo((1 + 4 + 0.25) / 4, 6);
    expect(mse.mse).toBeCloseTo(5.25 / 4, 6);
    expect(mse.mae).toBeCloseTo(3.5 / 4, 6);
    expect(mse.rmse).toBeCloseTo(Math.sqrt(5.25 / 4), 6);
    expect((await score(task('meanAbsoluteError'), y(), p())).loss).toBeCloseTo(3.5 / 4, 6);
    // Huber, delta 1: |e| <= 1 -> e^2 / 2, else |e| - 1/2: 0.5 + 1.5 + 0.125 + 0.
    expect((await score(task('huber'), y(), p())).loss).toBeCloseTo(2.125 / 4, 6);
  });

  it('scores multilabel flags: binary cross-entropy, per-flag accuracy, micro AUC', async () => {
    const m = await score(
      {
        target: { kind: 'multilabel', numLabels: 2 },
        loss: 'binaryCrossentropy',
        metrics: ['accuracy', 'auc'],
      },
      tf.tensor2d([
        [1, 0],
        [0, 1],
      ]),
      tf.tensor2d([
        [0.8, 0.3],
        [0.6, 0.9],
      ]),
    );
    const bce = -(Math.log(0.8) + Math.log(0.7) + Math.log(0.4) + Math.log(0.9)) / 4;
    expect(m.loss).toBeCloseTo(bce, 5);
    expect(m.accuracy).toBeCloseTo(3 / 4, 6);
    // Positives 0.8, 0.9; negatives 0.3, 0.6: every positive above every negative.
    expect(m.auc).toBe(1);
  });

  it('scores next tokens per position, and leaves out what it cannot compute', async () => {
    const task: ScoreTask = {
      target: { kind: 'sequence', vocabSize: 2 },
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['accuracy', 'perplexity'],
    };
    const m = await score(
      task,
      tf.tensor2d([[0, 1]], undefined, 'int32'),
      tf.tensor3d([
        [
          [0.9, 0.1],
          [0.6, 0.4],
        ],
      ]),
    );
    const ce = -(Math.log(0.9) + Math.log(0.4)) / 2;
    expect(m.loss).toBeCloseTo(ce, 5);
    expect(m.accuracy).toBeCloseTo(0.5, 6);
    expect(m.perplexity).toBeCloseTo(Math.exp(ce), 4);
    expect(new MetricAccumulator(task).result()).toEqual({});
    const oneKind = await score(
      { target: { kind: 'multilabel', numLabels: 1 }, loss: 'binaryCrossentropy', metrics: ['auc'] },
      tf.tensor2d([[1], [1]]),
      tf.tensor2d([[0.2], [0.7]]),
    );
    expect(oneKind).not.toHaveProperty('auc');
  });
});
