import { expect, test } from '@playwright/test';
import { openContributor } from './contributors.ts';
import { api, withCoordinator } from './coordinator.ts';

interface Round {
  status: string;
  selected: number;
  reported: number;
  dropped: number;
  deadlineHit: boolean;
  startedAt: number;
  endedAt: number | null;
}

test('a tab closed mid-round does not hold the round until its deadline', async ({ browser }) => {
  const deadlineMs = 120_000;
  await withCoordinator(
    {
      task: {
        id: 'mnist-close',
        model: { kind: 'mlp', hidden: [32] },
        dataset: { name: 'mnist', partition: { kind: 'iid' }, numShards: 8, seed: 5 },
        // Several epochs so the tab is surely still training when it is closed.
        training: { epochs: 6, batchSize: 32, learningRate: 0.1, optimizer: 'sgd' },
        rounds: { cohortSize: 3, minReports: 2, minClients: 3, overSelection: 1, deadlineMs, maxRounds: 1 },
      },
    },
    async (coordinator) => {
      const tabs = [];
      for (let i = 0; i < 3; i++)
        tabs.push(await openContributor(browser, coordinator.url, 'task=mnist-close&backend=wasm'));
      const victim = tabs[2]!;
      await victim.page.locator('body[data-status="training"]').waitFor({ timeout: 60_000 });
      await victim.context.close();
      await expect
        .poll(async () => (await api<Round[]>(coordinator.url, '/api/tasks/mnist-close/rounds'))[0]?.status, {
          timeout: deadlineMs,
          intervals: [500],
        })
        .toBe('committed');
      const [round] = await api<Round[]>(coordinator.url, '/api/tasks/mnist-close/rounds');
      expect(round!.selected).toBe(3);
      expect(round!.reported).toBe(2);
      expect(round!.dropped).toBe(1);
      expect(round!.deadlineHit).toBe(false);
      expect(round!.endedAt! - round!.startedAt).toBeLessThan(deadlineMs / 2);
      for (const tab of tabs.slice(0, 2)) await tab.context.close();
    },
  );
});
