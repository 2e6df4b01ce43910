import { expect, test } from '@playwright/test';
import { api, withCoordinator } from './coordinator.ts';
import { DropProxy } from './proxy.ts';

interface Round {
  status: string;
  selected: number;
  reported: number;
  dropped: number;
}

test('a tab whose network drops mid-round reconnects with the same client id and its update still counts', async ({
  page,
}) => {
  await withCoordinator(
    {
      task: {
        id: 'mnist-drop',
        model: { kind: 'mlp', hidden: [32] },
        dataset: { name: 'mnist', partition: { kind: 'iid' }, numShards: 20, seed: 5 },
        // Long enough local training that the drop happens while the tab trains, short enough
        // (a few seconds) that the tab is back within the coordinator's grace on a busy machine.
        training: { epochs: 10, batchSize: 32, learningRate: 0.05, optimizer: 'sgd' },
        rounds: {
          cohortSize: 1,
          minReports: 1,
          minClients: 1,
          overSelection: 1,
          deadlineMs: 60_000,
          maxRounds: 1,
        },
      },
    },
    async (coordinator) => {
      const proxy = await DropProxy.start(coordinator.url);
      try {
        const statuses: string[] = [];
        await page.exposeFunction('noteStatus', (s: string) => statuses.push(s));
        await page.goto(`${proxy.url}/?task=mnist-drop&backend=wasm`);
        await page.locator('body[data-ready="true"]').waitFor();
        await page.evaluate(() => {
          new MutationObserver(() =>
            (window as unknown as { noteStatus(s: string): void }).noteStatus(
              document.body.dataset.status ?? '',
            ),
          ).observe(document.body, { attributeFilter: ['data-status'] });
        });
        await page.locator('#consent').check();
        await page.locator('#start').click();
        await page.locator('body[data-status="training"]').waitFor({ timeout: 60_000 });

        // The network drops while the tab trains, and comes back only once the update is ready
        // to go: it must wait for the reconnection and the hello, then count.
        const cutAt = Date.now();
        proxy.cut();
        await page.locator('body[data-status="uploading"]').waitFor({ timeout: 60_000 });
        const trainedOffline = Date.now() - cutAt;
        proxy.restore();
        await page.waitForFunction(() => Number(document.body.dataset.uploads ?? 0) >= 1, null, {
          timeout: 60_000,
        });
        console.log(
          `reconnect: trained ${trainedOffline} ms offline, uploaded ${Date.now() - cutAt} ms after the drop (grace 10 s)`,
        );
        await expect
          .poll(async () => (await api<Round[]>(coordinator.url, '/api/tasks/mnist-drop/rounds'))[0]?.status)
          .toBe('committed');
        const [round] = await api<Round[]>(coordinator.url, '/api/tasks/mnist-drop/rounds');
        // Back within the grace: had it come later, the coordinator would have dropped it.
        expect(round).toMatchObject({ selected: 1, reported: 1, dropped: 0 });
        // It did lose the connection, and came back as the one client the coordinator knows.
        expect(statuses).toContain('connecting');
        expect(
          (await api<{ population: { total: number } }>(coordinator.url, '/api/tasks/mnist-drop')).population
            .total,
        ).toBe(1);
        await page.screenshot({ path: test.info().outputPath('reconnected.png'), fullPage: true });
      } finally {
        await proxy.close();
      }
    },
  );
});
