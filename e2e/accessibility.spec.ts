import AxeBuilder from '@axe-core/playwright';
import { expect, type Page, test } from '@playwright/test';
import { OPERATOR_TOKEN, type RunningCoordinator, removeDataDir, startCoordinator } from './coordinator.ts';
import { builtinTask, createTask, HOST_TASK, MNIST_TASK } from './page-tasks.ts';

const NEXT_CHAR_TASK = builtinTask('next-char');
const SPAM_TASK = builtinTask('spam');

// Every page passes axe-core's WCAG 2 A and AA rules with no serious or critical violation:
// each task's contributor page (one per presentation kind) on a desktop and a phone, the
// operator dashboard and the SDK example page.

const SIZES = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const;

let coordinator: RunningCoordinator;
test.beforeAll(async () => {
  coordinator = await startCoordinator({ task: MNIST_TASK });
  for (const task of [NEXT_CHAR_TASK, SPAM_TASK, HOST_TASK]) await createTask(coordinator.url, task);
});
test.afterAll(async () => {
  await coordinator.stop();
  removeDataDir(coordinator.dataDir);
});

/** The serious and critical violations on the page, as `rule: target` lines. */
async function violations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')} (${n.failureSummary ?? ''})`));
}

test('the contributor page of each task, one per presentation kind, on a desktop and a phone', async ({
  page,
}) => {
  for (const task of [MNIST_TASK, NEXT_CHAR_TASK, SPAM_TASK, HOST_TASK]) {
    await page.setViewportSize(SIZES.desktop);
    await page.goto(`${coordinator.url}/?task=${task.id}&backend=wasm`);
    // Ready: the task's widget is in place.
    await page.locator('body[data-ready="true"]').waitFor();
    for (const [size, viewport] of Object.entries(SIZES)) {
      await page.setViewportSize(viewport);
      expect(await violations(page), `${task.id} on a ${size}`).toEqual([]);
    }
  }
});

test('the dashboard, signed out and signed in', async ({ page }) => {
  await page.goto(`${coordinator.url}/dashboard?task=${NEXT_CHAR_TASK.id}`);
  await expect(page.locator('body')).toHaveAttribute('data-auth', 'required');
  expect(await violations(page)).toEqual([]);
  await page.locator('#token').fill(OPERATOR_TOKEN);
  await page.locator('#login-form button').click();
  await expect(page.locator('body')).toHaveAttribute('data-live', 'true');
  expect(await violations(page)).toEqual([]);
});

test('the SDK example page', async ({ page }) => {
  await page.goto(`${coordinator.url}/sdk-example.html?task=${MNIST_TASK.id}&backend=wasm`);
  await page.locator('body[data-ready="true"]').waitFor();
  expect(await violations(page)).toEqual([]);
});
