import { expect, type Page, test } from '@playwright/test';
import { draw, SEVEN } from './contributors.ts';
import { withCoordinator } from './coordinator.ts';
import { MNIST_TASK, NEXT_CHAR_TASK, TEXT_LABEL_TASK } from './page-tasks.ts';

// Trying the global model on the contributor page (docs/tasks.md, "Try the model"): it runs
// in the tab's worker on what the visitor draws or types, and follows the versions that commit.

async function open(page: Page, url: string, task: string): Promise<void> {
  page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
  await page.goto(`${url}/?task=${task}&backend=wasm`);
  await page.locator('body[data-ready="true"]').waitFor();
}

test('drawing a digit on the MNIST page shows what the global model predicts', async ({ page }) => {
  await withCoordinator({ task: MNIST_TASK }, async (coordinator) => {
    const sent: string[] = [];
    page.on('request', (req) => req.method() !== 'GET' && sent.push(req.url()));
    await open(page, coordinator.url, MNIST_TASK.id);
    await expect(page.locator('body')).toHaveAttribute('data-presentation', 'image');
    // The model's worker starts only when the visitor tries it.
    await expect(page.locator('#try-version')).toHaveText('The model loads when you first try it.');
    await draw(page, SEVEN);
    const classes = page.locator('#classes');
    await expect(classes).toHaveAttribute('data-version', '0');
    await expect(page.locator('#try-version')).toHaveText('Using global model version 0.');
    await expect(classes.locator('li')).toHaveCount(3);
    await expect(classes.locator('li').first()).toHaveText(/^\d: \d+(\.\d)?%$/);
    // The visitor's drawing stays in the tab: the page only fetched (the task, the model).
    expect(sent).toEqual([]);
  });
});

test('typing on the next-character page shows the global model suggestions, which change once a new version commits', async ({
  page,
}) => {
  await withCoordinator({ task: NEXT_CHAR_TASK }, async (coordinator) => {
    const sent: string[] = [];
    page.on('request', (req) => req.method() !== 'GET' && sent.push(req.url()));
    await open(page, coordinator.url, NEXT_CHAR_TASK.id);
    await expect(page.locator('body')).toHaveAttribute('data-presentation', 'next-char');
    await expect(page.locator('#pad')).toHaveCount(0);
    const text = page.locator('#entry-text');
    await text.pressSequentially('the cat sat on the mat ');
    const suggestions = page.locator('#suggestions');
    await expect(suggestions).toHaveAttribute('data-version', '0');
    await expect(page.locator('#try-version')).toHaveText('Using global model version 0.');
    await expect(suggestions.locator('button')).toHaveCount(3);
    const before = await suggestions.textContent();

    // The text becomes this browser's examples; a round trains on them and commits version 1.
    await page.locator('#save-entry').click();
    await expect(page.locator('#entries li')).toHaveCount(1);
    await expect(page.locator('#examples')).toHaveText('23');
    await text.pressSequentially('the cat sat on the mat ');
    await page.locator('#consent').check();
    await page.locator('#start').click();
    await expect(page.locator('#try-version')).toHaveText('Using global model version 1.', {
      timeout: 30_000,
    });
    await expect(suggestions).toHaveAttribute('data-version', '1');
    expect(await suggestions.textContent()).not.toBe(before);
    // The page counts what it downloaded for the round: the model, once.
    await expect(page.locator('#received')).toHaveText(/ of models in 1 round since this page opened$/);
    const weights = (
      await (await page.request.get(`${coordinator.url}/api/tasks/${NEXT_CHAR_TASK.id}/global`)).body()
    ).byteLength;
    // The start message's frame: the float32 weights and the frame's small header.
    const down = Number(await page.locator('body').getAttribute('data-bytes-down'));
    expect(down).toBeGreaterThanOrEqual(weights);
    expect(down).toBeLessThan(weights + 256);
    // Nothing typed was sent anywhere: the page only fetched (the model, the task) and the socket spoke.
    expect(sent).toEqual([]);

    // Deleting the entry deletes its examples.
    await page.locator('#entries li button').click();
    await expect(page.locator('#entries li')).toHaveCount(0);
    await expect(page.locator('#examples')).toHaveText('0');
  });
});

test('pasting a message on the text-label page shows the probability of each label; a labelled message is kept and deleted', async ({
  page,
}) => {
  await withCoordinator({ task: TEXT_LABEL_TASK }, async (coordinator) => {
    const sent: string[] = [];
    page.on('request', (req) => req.method() !== 'GET' && sent.push(req.url()));
    await open(page, coordinator.url, TEXT_LABEL_TASK.id);
    await expect(page.locator('body')).toHaveAttribute('data-presentation', 'text-label');
    await page.locator('#entry-text').fill('You have WON a FREE prize, claim your cash now');
    const scores = page.locator('#label-probabilities');
    await expect(scores).toHaveAttribute('data-version', '0');
    await expect(page.locator('#try-version')).toHaveText('Using global model version 0.');
    await expect(scores.locator('dt')).toHaveText(['ham', 'spam']);
    await expect(scores.locator('dd').first()).toHaveText(/^\d+(\.\d)?%$/);
    await expect(page.locator('#save-entry')).toBeDisabled();
    await page.locator('label:has-text("spam") input').check();
    await page.locator('#save-entry').click();
    await expect(page.locator('#entries li')).toHaveCount(1);
    await expect(page.locator('#entries li .badge')).toHaveText('spam');
    await expect(page.locator('#examples')).toHaveText('1');
    await page.locator('#entries li button').click();
    await expect(page.locator('#examples')).toHaveText('0');
    expect(sent).toEqual([]);
  });
});
