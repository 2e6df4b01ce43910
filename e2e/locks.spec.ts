import { expect, type Page, test } from '@playwright/test';
import { api, withCoordinator } from './coordinator.ts';

const population = async (url: string): Promise<number> =>
  (await api<{ population: { total: number } }>(url, '/api/tasks/mnist-locks')).population.total;

test('tabs of one browser share a client id and only one of them trains (Web Locks)', async ({ browser }) => {
  await withCoordinator(
    {
      task: {
        id: 'mnist-locks',
        model: { kind: 'mlp', hidden: [8] },
        dataset: { name: 'mnist', partition: { kind: 'iid' }, numShards: 40, seed: 8 },
        rounds: {
          cohortSize: 1,
          minReports: 1,
          minClients: 1,
          overSelection: 1,
          deadlineMs: 30_000,
          maxRounds: 0,
        },
      },
    },
    async (coordinator) => {
      // One context is one browser profile: its tabs share IndexedDB, so one client id.
      const context = await browser.newContext();
      const open = async (): Promise<Page> => {
        const page = await context.newPage();
        page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
        await page.goto(`${coordinator.url}/?task=mnist-locks&backend=wasm`);
        await page.locator('body[data-ready="true"]').waitFor();
        await page.locator('#consent').check();
        await page.locator('#start').click();
        return page;
      };
      const uploads = (page: Page): Promise<number> =>
        page.evaluate(() => Number(document.body.dataset.uploads ?? 0));

      const first = await open();
      await first.waitForFunction(() => Number(document.body.dataset.uploads ?? 0) >= 1, null, {
        timeout: 60_000,
      });
      const second = await open();
      await expect(second.locator('body')).toHaveAttribute('data-status', 'standby');
      await expect(second.locator('#lock-note')).toBeVisible();
      await expect(second.locator('#lock-note')).toContainText(
        'Another tab of this browser is already contributing',
      );

      // The first keeps training; the second sends nothing and the coordinator sees one device.
      const before = await uploads(first);
      await first.waitForFunction((n) => Number(document.body.dataset.uploads ?? 0) >= n + 3, before);
      expect(await uploads(second)).toBe(0);
      expect(await population(coordinator.url)).toBe(1);
      await expect(first.locator('#progress-text')).not.toContainText('DUPLICATE_CLIENT');
      await second.screenshot({ path: test.info().outputPath('second-tab-standby.png'), fullPage: true });

      // The first tab closes: the second takes the lock and trains, as the same client.
      await first.close();
      await second.waitForFunction(() => Number(document.body.dataset.uploads ?? 0) >= 1, null, {
        timeout: 60_000,
      });
      await expect(second.locator('#lock-note')).toBeHidden();
      expect(await population(coordinator.url)).toBe(1);
      await second.screenshot({ path: test.info().outputPath('second-tab-took-over.png'), fullPage: true });
      await context.close();
    },
  );
});
