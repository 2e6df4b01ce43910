import { expect, test } from '@playwright/test';
import { withCoordinator } from './coordinator.ts';
import { builtinTaskFile, specRounds, trainInTabs } from './text-tasks.ts';

test('three tabs train the next-char model on Brown documents below the bigram perplexity', async ({
  browser,
}) => {
  const task = builtinTaskFile('next-char');
  await withCoordinator(
    {
      task: {
        ...task,
        id: 'next-char-e2e',
        training: { epochs: 2, batchSize: 32, learningRate: 0.01, optimizer: 'adam' },
        rounds: specRounds(3, 5),
      },
    },
    async (coordinator) => {
      const { metrics, baselines, rounds } = await trainInTabs(browser, coordinator, 'next-char-e2e', 3);
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
