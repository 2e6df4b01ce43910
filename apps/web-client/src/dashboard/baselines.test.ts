import { describe, expect, it } from 'vitest';
import { baselinesOf, parseBaselines } from './baselines.ts';

describe('baselines on the dashboard', () => {
  it('keeps the well-formed baselines of a held-out answer and drops the rest', () => {
    const unigram = { name: 'unigram', metrics: { perplexity: 17.9, 'topKAccuracy@3': 0.35 } };
    const bigram = { name: 'bigram', metrics: { perplexity: 10.4 } };
    expect(
      parseBaselines({
        baselines: [
          unigram,
          { name: 3, metrics: {} },
          { name: 'nan', metrics: { loss: Number.NaN } },
          null,
          bigram,
        ],
      }),
    ).toEqual([unigram, bigram]);
    expect(parseBaselines({ source: null })).toEqual([]);
    expect(parseBaselines(null)).toEqual([]);
    expect(baselinesOf([unigram, bigram], 'topKAccuracy@3')).toEqual([{ name: 'unigram', value: 0.35 }]);
  });
});
