import { expect, test } from '@playwright/test';
import { openContributor } from './contributors.ts';
import { api, OPERATOR_TOKEN, withCoordinator } from './coordinator.ts';

test('the dashboard shows nothing without the operator token, and live rounds with it', async ({
  browser,
}) => {
  await withCoordinator(
    {
      task: {
        id: 'mnist-dash',
        model: { kind: 'mlp', hidden: [32] },
        dataset: { name: 'mnist', partition: { kind: 'iid' }, numShards: 10, seed: 2 },
        // The tab scores each global model on a fifth of its digits kept apart (#devices-*-chart).
        evaluation: { heldOutFraction: 0.2 },
        rounds: {
          cohortSize: 1,
          minReports: 1,
          minClients: 1,
          overSelection: 1,
          deadlineMs: 60_000,
          // Unbounded: rounds commit in seconds now that evaluation is off the commit path, and
          // the task must still be running when the operator pauses it.
          maxRounds: 0,
        },
      },
    },
    async (coordinator) => {
      const operator = await browser.newContext();
      const dashboard = await operator.newPage();
      dashboard.on('pageerror', (err) => console.error(`[dashboard error] ${err.message}`));
      await dashboard.goto(`${coordinator.url}/dashboard?task=mnist-dash`);
      await expect(dashboard.locator('body')).toHaveAttribute('data-auth', 'required');
      await dashboard.locator('#token').fill('not-the-operator-token');
      await dashboard.locator('#login-form button').click();
      await expect(dashboard.locator('#login-error')).toContainText('refused');
      await expect(dashboard.locator('#rounds tr')).toHaveCount(0);
      await expect(dashboard.locator('#tile-status')).toHaveText('-');

      await dashboard.locator('#token').fill(OPERATOR_TOKEN);
      await dashboard.locator('#login-form button').click();
      await expect(dashboard.locator('body')).toHaveAttribute('data-auth', 'ok');
      await expect(dashboard.locator('body')).toHaveAttribute('data-live', 'true');
      await expect(dashboard.locator('#tile-status')).toHaveText('running');
      // One chart per metric, held-out and clients': before any round only the loss is known.
      await expect(dashboard.locator('#heldout-loss-chart')).toHaveAttribute('data-points', '0');
      // Marks this document: a reload would lose it.
      await dashboard.evaluate(() => {
        (window as unknown as { sameDocument: boolean }).sameDocument = true;
      });

      // A contributor trains; the dashboard shows the committed round and its accuracy point live.
      const tab = await openContributor(browser, coordinator.url, 'task=mnist-dash&backend=wasm');
      await expect(dashboard.locator('#tile-connected')).toHaveText('1', { timeout: 30_000 });
      await expect(dashboard.locator('#tile-backends')).toContainText('wasm 1');
      await expect(dashboard.locator('#rounds tr[data-round="1"] td.committed')).toBeVisible({
        timeout: 90_000,
      });
      await expect(dashboard.locator('#heldout-accuracy-chart')).not.toHaveAttribute('data-points', '0');
      await expect(dashboard.locator('#heldout-loss-chart')).not.toHaveAttribute('data-points', '0');
      // The first round's held-out metrics, once its evaluation attached them.
      let first: { metrics: { accuracy: number; loss: number } | null } | undefined;
      await expect
        .poll(async () => {
          [first] = await api<{ metrics: { accuracy: number; loss: number } | null }[]>(
            coordinator.url,
            '/api/tasks/mnist-dash/rounds',
          );
          return first?.metrics ?? null;
        })
        .not.toBeNull();
      await expect(dashboard.locator('#rounds tr[data-round="1"] td').nth(6)).toHaveText(
        `accuracy ${first!.metrics!.accuracy.toFixed(4)}, loss ${first!.metrics!.loss.toFixed(4)}`,
      );
      await expect(dashboard.locator('#tile-heldout')).toContainText('accuracy');
      await expect(dashboard.locator('#clients-accuracy-chart')).not.toHaveAttribute('data-points', '0');
      await expect(dashboard.locator('#clients-loss-chart')).not.toHaveAttribute('data-points', '0');
      await expect(dashboard.locator('#devices-accuracy-chart')).not.toHaveAttribute('data-points', '0');
      await expect(dashboard.locator('#devices-accuracy-chart')).toHaveAttribute('data-points', /\d+/);
      await expect(dashboard.locator('#timeline-chart')).not.toHaveAttribute('data-points', '0');
      await expect(dashboard.locator('#tile-ratio')).toContainText('smaller than dense float32');
      expect(
        await dashboard.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument),
      ).toBe(true);

      // Task control over the namespace: pause, then start again.
      await dashboard.locator('#pause').click();
      await expect(dashboard.locator('#tile-status')).toHaveText('paused');
      expect((await api<{ status: string }>(coordinator.url, '/api/tasks/mnist-dash')).status).toBe('paused');
      await dashboard.locator('#resume').click();
      await expect(dashboard.locator('#tile-status')).not.toHaveText('paused');
      await expect
        .poll(() => dashboard.locator('#rounds tr td.committed').count(), { timeout: 90_000 })
        .toBeGreaterThanOrEqual(3);
      // A point per evaluated version (one may be skipped for a newer one).
      await expect
        .poll(async () =>
          Number(await dashboard.locator('#heldout-accuracy-chart').getAttribute('data-points')),
        )
        .toBeGreaterThanOrEqual(2);
      await dashboard.screenshot({ path: test.info().outputPath('dashboard.png'), fullPage: true });
      await tab.context.close();
      await operator.close();
    },
  );
});
