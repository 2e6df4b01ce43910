import { expect, type Page, test } from '@playwright/test';
import { draw, SEVEN } from './contributors.ts';
import { api, type RunningCoordinator, removeDataDir, startCoordinator } from './coordinator.ts';
import { readExamples } from './indexeddb.ts';

const TASK = {
  id: 'mnist-page',
  model: { kind: 'mlp', hidden: [16] },
  dataset: { name: 'mnist', partition: { kind: 'iid' }, numShards: 40, seed: 4 },
  rounds: { cohortSize: 1, minReports: 1, minClients: 1, overSelection: 1, deadlineMs: 60_000, maxRounds: 0 },
};

let coordinator: RunningCoordinator;
test.beforeAll(async () => {
  coordinator = await startCoordinator({ task: TASK });
});
test.afterAll(async () => {
  await coordinator.stop();
  removeDataDir(coordinator.dataDir);
});

async function openPage(page: Page): Promise<void> {
  page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
  await page.goto(`${coordinator.url}/?task=${TASK.id}&backend=wasm`);
  await page.locator('body[data-ready="true"]').waitFor();
}

const ONE: [number, number][][] = [
  [
    [0.5, 0.15],
    [0.5, 0.85],
  ],
];

/** Wait until the page has sent at least one update. */
async function uploaded(page: Page): Promise<void> {
  await page.waitForFunction(() => Number(document.body.dataset.uploads ?? 0) >= 1, null, {
    timeout: 60_000,
  });
}

const population = async (): Promise<number> =>
  (await api<{ population: { total: number } }>(coordinator.url, `/api/tasks/${TASK.id}`)).population.total;

test('nothing trains or connects before the visitor consents', async ({ page }) => {
  await openPage(page);
  await expect(page.locator('#start')).toBeDisabled();
  await page.locator('#start').click({ force: true });
  await page.waitForTimeout(1500);
  expect(await population()).toBe(0);
  expect(await page.evaluate(readExamples, TASK.id)).toEqual([]);
  await expect(page.locator('body')).not.toHaveAttribute('data-status', /.+/);

  await page.locator('#consent').check();
  await expect(page.locator('#start')).toBeEnabled();
  await page.locator('#start').click();
  await uploaded(page);
  expect(await population()).toBe(1);
  await expect(page.locator('#history li').first()).toContainText('Round 1');
  await page.screenshot({ path: test.info().outputPath('contributor-training.png'), fullPage: true });

  // Pause leaves the coordinator at once; nothing more is sent.
  await page.locator('#stop').click();
  await expect(page.locator('body')).toHaveAttribute('data-status', 'stopped');
  await expect.poll(population).toBe(0);
  await expect(page.locator('#start')).toHaveText('Resume');
});

test('two drawn and labelled digits are stored in IndexedDB and survive a reload', async ({ page }) => {
  await openPage(page);
  for (const [strokes, label] of [
    [SEVEN, 7],
    [ONE, 1],
  ] as const) {
    await draw(page, strokes);
    await expect(page.locator('#save-digit')).toBeDisabled();
    await page.locator(`label:has(#label-${label})`).click();
    await page.locator('#save-digit').click();
    await expect(page.locator('#draw-note')).toContainText(`Saved a ${label}`);
  }
  const stored = await page.evaluate(readExamples, TASK.id);
  expect(stored.map((e) => [e.source, e.y, e.pixels])).toEqual([
    ['drawn', 7, 784],
    ['drawn', 1, 784],
  ]);
  for (const e of stored) expect(e.ink).toBeGreaterThan(255 * 20);
  await page.screenshot({ path: test.info().outputPath('contributor-drawn.png'), fullPage: true });

  await page.reload();
  await page.locator('body[data-ready="true"]').waitFor();
  await expect(page.locator('#examples')).toHaveText('2');
  await expect(page.locator('#examples-detail')).toContainText('2 drawn here');
  expect(await page.evaluate(readExamples, TASK.id)).toEqual(stored);
});

test('the delete button empties the store', async ({ page }) => {
  await openPage(page);
  await draw(page, ONE);
  await page.locator('label:has(#label-1)').click();
  await page.locator('#save-digit').click();
  await expect(page.locator('#examples')).toHaveText('1');
  expect(await page.evaluate(readExamples, TASK.id)).toHaveLength(1);

  await page.locator('#clear').click();
  await expect(page.locator('#examples')).toHaveText('0');
  expect(await page.evaluate(readExamples, TASK.id)).toEqual([]);
  await page.reload();
  await page.locator('body[data-ready="true"]').waitFor();
  await expect(page.locator('#examples')).toHaveText('0');
  await page.screenshot({ path: test.info().outputPath('contributor-cleared.png'), fullPage: true });
});

test('the page fits a phone', async ({ browser }) => {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    hasTouch: true,
    isMobile: true,
  });
  const page = await context.newPage();
  await openPage(page);
  await page.locator('#consent').check();
  await page.locator('#start').click();
  await uploaded(page);
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  const pad = (await page.locator('#pad').boundingBox())!;
  expect(pad.width).toBeGreaterThan(250);
  await page.screenshot({ path: test.info().outputPath('contributor-phone.png') });
  await page.screenshot({ path: test.info().outputPath('contributor-phone-full.png'), fullPage: true });
  await context.close();
});

/** Make the page look hidden or visible to its scripts, as switching tabs or apps does. */
function setVisibility(state: string): void {
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state });
  document.dispatchEvent(new Event('visibilitychange'));
}

test('a hidden tab stops training unless the visitor opted in to background training', async ({ page }) => {
  await openPage(page);
  await page.locator('#consent').check();
  await page.locator('#start').click();
  await uploaded(page);
  const uploads = (): Promise<number> => page.evaluate(() => Number(document.body.dataset.uploads ?? 0));

  await page.evaluate(setVisibility, 'hidden');
  // A round in flight may still finish; after that, nothing.
  await page.waitForTimeout(1000);
  const hidden = await uploads();
  await page.waitForTimeout(3000);
  expect(await uploads()).toBe(hidden);

  await page.evaluate(setVisibility, 'visible');
  await page.waitForFunction((n) => Number(document.body.dataset.uploads ?? 0) > n, hidden);

  await page.locator('#background').check();
  await page.evaluate(setVisibility, 'hidden');
  const before = await uploads();
  await page.waitForFunction((n) => Number(document.body.dataset.uploads ?? 0) >= n + 2, before);
  await page.locator('#stop').click();
});
