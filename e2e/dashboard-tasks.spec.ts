import { expect, test } from '@playwright/test';
import { OPERATOR_TOKEN, withCoordinator } from './coordinator.ts';
import { BROWN_TASK, createTask, MNIST_TASK, SPAM_TASK } from './page-tasks.ts';

// The dashboard's task picker: every task the coordinator runs, each with charts of its own
// metrics and the baselines its built-in held-out data is scored against.

test('the dashboard picks any task and charts its own metrics against its baselines', async ({ page }) => {
  await withCoordinator({ task: MNIST_TASK }, async (coordinator) => {
    for (const task of [BROWN_TASK, SPAM_TASK]) await createTask(coordinator.url, task);
    page.on('pageerror', (err) => console.error(`[dashboard error] ${err.message}`));
    await page.goto(`${coordinator.url}/dashboard`);
    await page.locator('#token').fill(OPERATOR_TOKEN);
    await page.locator('#login-form button').click();
    await expect(page.locator('body')).toHaveAttribute('data-live', 'true');
    await expect(page.locator('#task-select option')).toHaveText([
      'Handwritten digits (MNIST)',
      BROWN_TASK.name,
      SPAM_TASK.name,
    ]);
    // MNIST: accuracy and loss, no baselines.
    await expect(page.locator('#heldout-accuracy-chart')).toHaveAttribute('data-baselines', '');

    await page.locator('#task-select').selectOption(BROWN_TASK.id);
    await expect(page).toHaveURL(/task=brown-chars/);
    await expect(page.locator('#heldout-perplexity-chart')).toHaveAttribute(
      'data-baselines',
      'unigram,bigram',
    );
    await expect(page.locator('#heldout-topKAccuracy-3-chart')).toHaveAttribute(
      'data-baselines',
      'unigram,bigram',
    );
    await expect(page.locator('#metric-charts')).toContainText('against the baselines: unigram');

    await page.locator('#task-select').selectOption(SPAM_TASK.id);
    await expect(page.locator('#heldout-auc-chart')).toHaveAttribute('data-baselines', 'majority');
    await expect(page.locator('#heldout-accuracy-chart')).toHaveAttribute('data-baselines', 'majority');
    await expect(page.locator('#heldout-perplexity-chart')).toHaveCount(0);
  });
});
