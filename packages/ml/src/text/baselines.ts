import { topK } from './top-k.ts';

/** A baseline's figures on a held-out split, keyed as the task's metrics are (`perplexity`, `topKAccuracy@3`, ...). */
export interface Baseline {
  readonly name: string;
  readonly metrics: Readonly<Record<string, number>>;
}

/** Next-character examples as ids: `x` count * context ids, `y` one next id each. */
export interface IdExamples {
  readonly count: number;
  readonly x: ArrayLike<number>;
  readonly y: ArrayLike<number>;
}

function scoreModel(
  name: string,
  test: IdExamples,
  context: number,
  k: number,
  probs: (prev: number) => Float64Array,
): Baseline {
  let nll = 0;
  let top1 = 0;
  let topk = 0;
  const ranks = new Map<number, number[]>();
  for (let i = 0; i < test.count; i++) {
    const prev = test.x[i * context + context - 1]!;
    const p = probs(prev);
    const y = test.y[i]!;
    nll -= Math.log(p[y]!);
    let ranked = ranks.get(prev);
    if (!ranked) {
      ranked = topK(p, k).map((r) => r.index);
      ranks.set(prev, ranked);
    }
    if (ranked[0] === y) top1++;
    if (ranked.includes(y)) topk++;
  }
  const n = Math.max(1, test.count);
  return {
    name,
    metrics: { perplexity: Math.exp(nll / n), accuracy: top1 / n, [`topKAccuracy@${k}`]: topk / n },
  };
}

/**
 * Unigram and bigram character models fitted on the training examples' next characters (the
 * bigram conditioned on the character before: the last of the context), with add-one
 * (Laplace) smoothing over the vocabulary, scored on the held-out examples: perplexity
 * (exp of the mean negative log-likelihood), accuracy and top-k accuracy. What a neural model
 * must beat to show it uses more than the last character.
 */
export function ngramBaselines(
  train: IdExamples,
  test: IdExamples,
  context: number,
  vocab: number,
  k = 3,
): Baseline[] {
  const uni = new Float64Array(vocab);
  const bi = Array.from({ length: vocab }, () => new Float64Array(vocab));
  for (let i = 0; i < train.count; i++) {
    const y = train.y[i]!;
    uni[y]! += 1;
    bi[train.x[i * context + context - 1]!]![y]! += 1;
  }
  const smooth = (counts: Float64Array): Float64Array => {
    const total = counts.reduce((a, b) => a + b, 0) + vocab;
    return counts.map((c) => (c + 1) / total);
  };
  const uniP = smooth(uni);
  const biP = bi.map(smooth);
  return [
    scoreModel('unigram', test, context, k, () => uniP),
    scoreModel('bigram', test, context, k, (prev) => biP[prev]!),
  ];
}

/**
 * The majority-class baseline: always the class most frequent in training. Its accuracy is
 * that class's share of the held-out labels; its scores are constant, so its ROC AUC is 0.5.
 */
export function majorityBaseline(
  trainY: ArrayLike<number>,
  testY: ArrayLike<number>,
  numClasses: number,
): Baseline {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < trainY.length; i++) counts[trainY[i]!]! += 1;
  const majority = counts.indexOf(Math.max(...counts));
  let hits = 0;
  for (let i = 0; i < testY.length; i++) if (testY[i] === majority) hits++;
  return { name: 'majority', metrics: { accuracy: hits / Math.max(1, testY.length), auc: 0.5 } };
}
