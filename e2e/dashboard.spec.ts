import { expect, test } from '@playwright/test';
import { openContributor } from './contributors.ts';
import { OPERATOR_TOKEN, withCoordinator } from './coordinator.ts';

test('the dashboard shows nothing without the operator token, and live rounds with it', async ({
  browser,
}) => {
  await withCoordinator(
    {
      task: {
        id: 'mnist-dash',
        model: { kind: 'mlp', hidden: [32] },
        dataset: { name: 'mnist', partition: { kind: 'iid' }, numShards: 10, seed: 2 },
        rounds: {
          cohortSize: 1,
          minReports: 1,
          minClients: 1,
          overSelection: 1,
          deadlineMs: 60_000,
          maxRounds: 3,
        },
      },
    },
    async (coordinator) => {
      const operator = await browser.newContext();
      const dashboard = await operator.newPage();
      await dashboard.goto(`${coordinator.url}/dashboard?task=mnist-dash`);
      await expect(dashboard.locator('body')).toHaveAttribute('data-auth', 'required');
      await dashboard.locator('#token').fill('not-the-operator-token');
      await dashboard.locator('#login-form button').click();
      await expect(dashboard.locator('#login-error')).toContainText('refused');
      await expect(dashboard.locator('#rounds tr')).toHaveCount(0);

      await dashboard.locator('#token').fill(OPERATOR_TOKEN);
      await dashboard.locator('#login-form button').click();
      await expect(dashboard.locator('body')).toHaveAttribute('data-auth', 'ok');

      // A contributor trains; the dashboard shows the committed rounds without a reload.
      const tab = await openContributor(browser, coordinator.url, 'task=mnist-dash&backend=wasm');
      await expect(dashboard.locator('#rounds tr td.committed').first()).toBeVisible({ timeout: 90_000 });
      await expect(dashboard.locator('#tile-accuracy')).not.toHaveText('-');
      await dashboard.screenshot({ path: test.info().outputPath('dashboard.png'), fullPage: true });
      await tab.context.close();
      await operator.close();
    },
  );
});
