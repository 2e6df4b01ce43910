import { describe, expect, it } from 'vitest';
import { majorityBaseline, ngramBaselines } from './baselines.ts';
import { nextCharExamples } from './next-char.ts';

const coding = { alphabet: 'ab', context: 2 };

describe('n-gram baselines', () => {
  it('scores add-one smoothed unigram and bigram models by hand', () => {
    // "abab": labels a b a b after contexts [0 0] [0 a] [a b] [b a]; vocab 3 (0, a, b).
    const train = nextCharExamples('abab', coding);
    const test = nextCharExamples('ab', coding);
    const [uni, bi] = ngramBaselines(train, test, 2, 3, 1);
    // Unigram: counts 0/2/2 -> p(a) = p(b) = 3/7.
    expect(uni!.name).toBe('unigram');
    expect(uni!.metrics.perplexity).toBeCloseTo(7 / 3, 10);
    // Bigram: after 0 -> a once (p(a|0) = 2/4); after a -> b twice (p(b|a) = 3/5).
    expect(bi!.metrics.perplexity).toBeCloseTo(Math.exp(-(Math.log(2 / 4) + Math.log(3 / 5)) / 2), 10);
    expect(bi!.metrics.accuracy).toBe(1);
    expect(bi!.metrics['topKAccuracy@1']).toBe(1);
  });

  it('has the bigram beat the unigram on text with structure', () => {
    const text = 'the cat sat on the mat. '.repeat(20);
    const c = { alphabet: ' .acehmnost', context: 4 };
    const [uni, bi] = ngramBaselines(nextCharExamples(text, c), nextCharExamples(text, c), 4, 12);
    expect(bi!.metrics.perplexity).toBeLessThan(uni!.metrics.perplexity!);
    expect(bi!.metrics['topKAccuracy@3']).toBeGreaterThan(uni!.metrics['topKAccuracy@3']!);
  });
});

describe('the majority baseline', () => {
  it('predicts the most frequent training class; its AUC is 0.5', () => {
    expect(majorityBaseline([0, 0, 1], [0, 1, 1, 1], 2)).toEqual({
      name: 'majority',
      metrics: { accuracy: 0.25, auc: 0.5 },
    });
  });
});
