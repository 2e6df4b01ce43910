import { expect, type Page, test } from '@playwright/test';
import { openContributor } from './contributors.ts';
import { OPERATOR_TOKEN, withCoordinator } from './coordinator.ts';

/**
 * The README's screenshots, made from a real run: POLLEN_DOCS=1 npx playwright test e2e/docs.spec.ts
 * writes docs/contributor.png and docs/dashboard.png. Skipped otherwise.
 */
test.skip(!process.env.POLLEN_DOCS, 'set POLLEN_DOCS=1 to refresh the README screenshots');

async function drawSeven(page: Page): Promise<void> {
  await page.locator('#pad').scrollIntoViewIfNeeded();
  const box = (await page.locator('#pad').boundingBox())!;
  const at = (x: number, y: number): [number, number] => [box.x + x * box.width, box.y + y * box.height];
  await page.mouse.move(...at(0.25, 0.2));
  await page.mouse.down();
  await page.mouse.move(...at(0.75, 0.2), { steps: 8 });
  await page.mouse.move(...at(0.45, 0.85), { steps: 8 });
  await page.mouse.up();
  await page.locator('label:has(#label-7)').click();
  await page.locator('#save-digit').click();
}

test('README screenshots', async ({ browser }) => {
  test.setTimeout(5 * 60_000);
  await withCoordinator(
    {
      task: {
        id: 'mnist',
        dataset: { name: 'mnist', partition: { kind: 'iid' }, numShards: 20, seed: 7 },
        rounds: {
          cohortSize: 3,
          minReports: 2,
          minClients: 3,
          samplingRate: 1,
          overSelection: 1.3,
          deadlineMs: 20_000,
          maxRounds: 12,
        },
      },
    },
    async (coordinator) => {
      const operator = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const dashboard = await operator.newPage();
      await dashboard.goto(`${coordinator.url}/dashboard?task=mnist`);
      await dashboard.locator('#token').fill(OPERATOR_TOKEN);
      await dashboard.locator('#login-form button').click();
      await expect(dashboard.locator('body')).toHaveAttribute('data-live', 'true');

      const tabs = [];
      for (let i = 0; i < 4; i++)
        tabs.push(await openContributor(browser, coordinator.url, 'task=mnist&backend=wasm'));
      const main = tabs[0]!.page;
      await drawSeven(main);
      // Four selected for three reports (over-selection): the slowest counts as dropped. One device
      // also leaves mid-run.
      // Rounds take seconds: five or more may have committed by the time the count is read.
      await expect
        .poll(() => dashboard.locator('#rounds tr td.committed').count(), { timeout: 120_000 })
        .toBeGreaterThanOrEqual(5);
      await tabs[3]!.context.close();
      await expect(dashboard.locator('#tile-status')).toHaveText('completed', { timeout: 180_000 });
      await main.evaluate(() => window.scrollTo(0, 0));
      await main.screenshot({ path: 'docs/contributor.png', fullPage: true });
      await dashboard.screenshot({ path: 'docs/dashboard.png', fullPage: true });
      for (const tab of tabs.slice(0, 3)) await tab.context.close();
      await operator.close();
    },
  );
});
