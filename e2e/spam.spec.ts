import { expect, test } from '@playwright/test';
import { withCoordinator } from './coordinator.ts';
import { builtinTaskFile, specRounds, trainInTabs } from './text-tasks.ts';

test('three tabs train the spam filter on SpamAssassin messages well above the majority class', async ({
  browser,
}) => {
  const task = builtinTaskFile('spam');
  await withCoordinator(
    {
      task: {
        ...task,
        id: 'spam-e2e',
        // IID shards: with the corpus' own folders, three tabs may all hold ham only.
        data: { builtin: 'spam-assassin', partition: { kind: 'iid' }, numShards: 12, seed: 1 },
        rounds: specRounds(3, 2),
      },
    },
    async (coordinator) => {
      const { metrics, baselines, rounds } = await trainInTabs(browser, coordinator, 'spam-e2e', 3);
      const majority = baselines.find((b) => b.name === 'majority')!;
      console.log(
        `held-out accuracy by round: ${rounds.map((r) => r.metrics?.accuracy?.toFixed(3) ?? '-').join(' ')}; ` +
          `AUC ${metrics.auc!.toFixed(3)}; majority class ${majority.metrics.accuracy!.toFixed(3)}`,
      );
      expect(metrics.accuracy!).toBeGreaterThan(majority.metrics.accuracy! + 0.1);
      expect(metrics.auc!).toBeGreaterThan(0.85);
    },
  );
});
