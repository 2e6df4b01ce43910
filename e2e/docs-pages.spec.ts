import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, type Page, test } from '@playwright/test';
import { draw, openContributor, SEVEN } from './contributors.ts';
import { evaluatedRounds, OPERATOR_TOKEN, untilCompleted, withCoordinator } from './coordinator.ts';
import { builtinTask, createTask, HOST_TASK, MNIST_TASK } from './page-tasks.ts';

/**
 * The screenshots of docs/tasks.md ("Each task's page"), made from a real run: each built-in
 * task trains a few rounds in a tab, then each task's contributor page is used the way a visitor
 * would (a digit drawn, text typed, a message pasted) and the dashboard shows each task.
 *
 *   POLLEN_DOCS=1 pnpm exec playwright test e2e/docs-pages.spec.ts
 *
 * writes docs/pages/<task>-contributor.png and docs/pages/<task>-dashboard.png. Skipped otherwise.
 */
test.skip(!process.env.POLLEN_DOCS, 'set POLLEN_DOCS=1 to refresh the screenshots in docs/pages');

const OUT = resolve(import.meta.dirname, '../docs/pages');
const VIEWPORT = { width: 960, height: 900 };
const ROUNDS = 4;
const rounds = {
  cohortSize: 1,
  minReports: 1,
  minClients: 1,
  overSelection: 1,
  deadlineMs: 60_000,
  maxRounds: ROUNDS,
};
/** The built-in tasks, each trained by one tab for a few rounds. */
const TRAINED: { id: string; [field: string]: unknown }[] = [
  { ...MNIST_TASK, id: 'mnist', name: 'Handwritten digits (MNIST)', rounds },
  { ...builtinTask('next-char'), rounds },
  // IID here: with one tab, a natural shard is one of the corpus's groups, all ham or all spam.
  {
    ...builtinTask('spam'),
    rounds,
    data: { builtin: 'spam-assassin', partition: { kind: 'iid' }, numShards: 4, seed: 1 },
  },
];
const [MNIST, NEXT_CHAR, SPAM] = TRAINED.map((t) => t.id);

/** What a visitor does on each kind of page before the screenshot. */
const USE: Record<string, (page: Page) => Promise<void>> = {
  [MNIST!]: async (page) => {
    await draw(page, SEVEN);
    await expect(page.locator('#classes li')).toHaveCount(3);
  },
  [NEXT_CHAR!]: async (page) => {
    await page.locator('#entry-text').pressSequentially('it was the best of times, it was the worst of ');
    await page.locator('#save-entry').click();
    await expect(page.locator('#entries li')).toHaveCount(1);
    await page.locator('#entry-text').pressSequentially('the quick brown fox jumps over the ');
    await expect(page.locator('#suggestions button')).toHaveCount(3);
  },
  [SPAM!]: async (page) => {
    await page
      .locator('#entry-text')
      .fill('Are we still on for lunch on Thursday? I can book the usual place.');
    await page.locator('label:has-text("ham") input').check();
    await page.locator('#save-entry').click();
    await expect(page.locator('#entries li')).toHaveCount(1);
    await page
      .locator('#entry-text')
      .pressSequentially('CONGRATULATIONS! You have WON a FREE prize. Click here to claim your cash now!!!');
    await expect(page.locator('#label-probabilities dd')).toHaveCount(2);
  },
  [HOST_TASK.id]: async () => {},
};

test('screenshots of each task page and of the dashboard on each task', async ({ browser }) => {
  test.setTimeout(8 * 60_000);
  mkdirSync(OUT, { recursive: true });
  await withCoordinator({ task: TRAINED[0] }, async (coordinator) => {
    for (const task of [...TRAINED.slice(1), HOST_TASK]) await createTask(coordinator.url, task);
    // One tab trains each built-in task on its demo shard until its rounds are done.
    const trainers = [];
    for (const task of TRAINED) {
      trainers.push(await openContributor(browser, coordinator.url, `task=${task.id}&backend=wasm`));
    }
    for (const task of TRAINED) {
      await untilCompleted(coordinator.url, task.id, {
        timeout: 5 * 60_000,
      });
      await evaluatedRounds(coordinator.url, task.id);
    }
    for (const t of trainers) await t.context.close();

    for (const task of [...TRAINED, HOST_TASK]) {
      const context = await browser.newContext({ viewport: VIEWPORT });
      const page = await context.newPage();
      await page.goto(`${coordinator.url}/?task=${task.id}&backend=wasm`);
      await page.locator('body[data-ready="true"]').waitFor();
      await USE[task.id]!(page);
      if (task.id !== HOST_TASK.id) {
        await expect(page.locator('body')).toHaveAttribute('data-try-version', String(ROUNDS));
      }
      await page.screenshot({ path: `${OUT}/${task.id}-contributor.png`, fullPage: true });
      await context.close();
    }

    const operator = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const dashboard = await operator.newPage();
    await dashboard.goto(`${coordinator.url}/dashboard?task=${TRAINED[0]!.id}`);
    await dashboard.locator('#token').fill(OPERATOR_TOKEN);
    await dashboard.locator('#login-form button').click();
    await expect(dashboard.locator('body')).toHaveAttribute('data-live', 'true');
    for (const task of TRAINED) {
      await dashboard.locator('#task-select').selectOption(task.id);
      await expect(dashboard.locator('#tile-status')).toHaveText('completed');
      await expect(dashboard.locator('#heldout-loss-chart')).not.toHaveAttribute('data-points', '0');
      await dashboard.screenshot({ path: `${OUT}/${task.id}-dashboard.png`, fullPage: true });
    }
    await operator.close();
  });
});
