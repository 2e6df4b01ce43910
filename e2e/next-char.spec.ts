import { expect, test } from '@playwright/test';
import { withCoordinator } from './coordinator.ts';
import { builtinTaskFile, specRounds, trainInTabs } from './text-tasks.ts';

test('two tabs train the next-char model on Brown documents below the bigram perplexity', async ({
  browser,
}) => {
  const task = builtinTaskFile('next-char');
  await withCoordinator(
    {
      task: {
        ...task,
        id: 'next-char-e2e',
        // IID shards of about 3,800 characters from all training documents: tabs of one
        // document each see too little of the language in a few rounds, and overfit it (the
        // natural partition's figures are in docs/tasks.md).
        data: { builtin: 'brown', partition: { kind: 'iid' }, numShards: 150, seed: 1 },
        training: { epochs: 1, batchSize: 32, learningRate: 0.01, optimizer: 'adam' },
        rounds: specRounds(2, 3),
      },
    },
    async (coordinator) => {
      const { metrics, baselines, rounds } = await trainInTabs(browser, coordinator, 'next-char-e2e', 2);
      const bigram = baselines.find((b) => b.name === 'bigram')!;
      const unigram = baselines.find((b) => b.name === 'unigram')!;
      console.log(
        `held-out perplexity by round: ${rounds.map((r) => r.metrics?.perplexity?.toFixed(2) ?? '-').join(' ')}; ` +
          `top-3 ${metrics['topKAccuracy@3']!.toFixed(3)}; unigram ${unigram.metrics.perplexity!.toFixed(2)}, ` +
          `bigram ${bigram.metrics.perplexity!.toFixed(2)} (top-3 ${bigram.metrics['topKAccuracy@3']!.toFixed(3)})`,
      );
      expect(unigram.metrics.perplexity!).toBeGreaterThan(bigram.metrics.perplexity!);
      // The model uses more context than the last character: below the bigram's perplexity.
      expect(metrics.perplexity!).toBeLessThan(bigram.metrics.perplexity! - 0.3);
    },
  );
});
