import { type BrowserContext, expect, type Page, test } from '@playwright/test';
import {
  type ApiRound,
  api,
  type RunningCoordinator,
  removeDataDir,
  startCoordinator,
} from './coordinator.ts';

// Eligibility conditions in a real Chromium: the Battery Status and Network Information APIs
// are stubbed in the page (addInitScript) and their change events dispatched, as a phone
// unplugged or moved onto a cellular network would fire them.

const TASK = {
  id: 'mnist-charging',
  model: { kind: 'mlp', hidden: [16] },
  data: { builtin: 'mnist', partition: { kind: 'iid' }, numShards: 40, seed: 5 },
  // Every round trains for 2.5 s (up to 100 epochs), so a round is in flight long enough to unplug.
  training: { epochs: 100, batchSize: 32, learningRate: 0.1, timeBudgetMs: 2500 },
  rounds: { cohortSize: 1, minReports: 1, minClients: 1, overSelection: 1, deadlineMs: 30_000, maxRounds: 0 },
  eligibility: { charging: true, unmetered: true, whenUnsupported: { battery: 'allow', network: 'deny' } },
};

let coordinator: RunningCoordinator;
test.beforeAll(async () => {
  coordinator = await startCoordinator({ task: TASK });
});
test.afterAll(async () => {
  await coordinator.stop();
  removeDataDir(coordinator.dataDir);
});

interface Device {
  /** Stub navigator.getBattery; null leaves the browser without it. */
  readonly battery: { charging: boolean; level: number } | null;
  /** Stub navigator.connection; null leaves the browser without it. */
  readonly connection: { type: string; saveData: boolean } | null;
}

/** A fresh context (a separate device) whose page sees the given battery and connection. */
async function openDevice(
  browser: import('@playwright/test').Browser,
  device: Device,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext();
  await context.addInitScript((d: Device) => {
    const stub = (state: object): EventTarget => Object.assign(new EventTarget(), state);
    const nav = navigator as unknown as Record<string, unknown>;
    const battery = d.battery ? stub(d.battery) : null;
    const connection = d.connection ? stub(d.connection) : null;
    Object.defineProperty(nav, 'getBattery', {
      value: battery ? () => Promise.resolve(battery) : undefined,
      configurable: true,
    });
    Object.defineProperty(nav, 'connection', { value: connection ?? undefined, configurable: true });
    (globalThis as Record<string, unknown>).__device = { battery, connection };
  }, device);
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
  await page.goto(`${coordinator.url}/?task=${TASK.id}&backend=wasm`);
  await page.locator('body[data-ready="true"]').waitFor();
  await page.locator('#consent').check();
  await page.locator('#start').click();
  await page
    .locator('body[data-status="waiting"], body[data-status="training"]')
    .waitFor({ timeout: 60_000 });
  return { context, page };
}

/** Change a stubbed API's state and fire its change event. */
async function change(
  page: Page,
  api: 'battery' | 'connection',
  state: object,
  event: string,
): Promise<void> {
  await page.evaluate(
    ({ api: name, state: next, event: type }) => {
      const target = (globalThis as unknown as { __device: Record<string, EventTarget> }).__device[name]!;
      Object.assign(target, next);
      target.dispatchEvent(new Event(type));
    },
    { api, state, event },
  );
}

const population = async (): Promise<{ total: number; eligible: number }> =>
  (await api<{ population: { total: number; eligible: number } }>(coordinator.url, `/api/tasks/${TASK.id}`))
    .population;
const rounds = (): Promise<ApiRound[]> => api<ApiRound[]>(coordinator.url, `/api/tasks/${TASK.id}/rounds`);

test('a device that unplugs leaves its round and becomes ineligible; plugged in again it comes back', async ({
  browser,
}) => {
  const { context, page } = await openDevice(browser, {
    battery: { charging: true, level: 0.9 },
    connection: { type: 'wifi', saveData: false },
  });
  await expect(page.locator('body')).toHaveAttribute('data-eligible', 'true');
  await page.locator('body[data-status="training"]').waitFor({ timeout: 30_000 });

  await change(page, 'battery', { charging: false }, 'chargingchange');
  await expect(page.locator('body')).toHaveAttribute('data-eligible', 'false');
  await expect(page.locator('body')).toHaveAttribute('data-blocked-by', 'not-charging');
  await expect(page.locator('#eligibility')).toContainText('charging');
  // The coordinator took the device out of its round at once: the round ends without it.
  await expect.poll(async () => (await population()).eligible).toBe(0);
  await expect.poll(async () => (await rounds())[0]?.status).toBe('abandoned');
  await expect(page.locator('body')).toHaveAttribute('data-status', 'waiting');
  expect(await page.evaluate(() => document.body.dataset.uploads ?? '0')).toBe('0');

  await change(page, 'battery', { charging: true }, 'chargingchange');
  await expect(page.locator('body')).toHaveAttribute('data-eligible', 'true');
  await page.waitForFunction(() => Number(document.body.dataset.uploads ?? 0) >= 1, null, {
    timeout: 30_000,
  });
  await expect.poll(async () => (await rounds()).some((r) => r.status === 'committed')).toBe(true);

  // A metered connection holds it back the same way.
  await change(page, 'connection', { type: 'cellular' }, 'change');
  await expect(page.locator('body')).toHaveAttribute('data-blocked-by', 'metered');
  await expect.poll(async () => (await population()).eligible).toBe(0);
  await context.close();
});

test("a missing API follows the task's policy: no battery API is allowed, no network API is denied", async ({
  browser,
}) => {
  const noBattery = await openDevice(browser, {
    battery: null,
    connection: { type: 'wifi', saveData: false },
  });
  await expect(noBattery.page.locator('body')).toHaveAttribute('data-eligible', 'true');
  await noBattery.context.close();

  const noNetwork = await openDevice(browser, { battery: { charging: true, level: 1 }, connection: null });
  await expect(noNetwork.page.locator('body')).toHaveAttribute('data-eligible', 'false');
  await expect(noNetwork.page.locator('body')).toHaveAttribute('data-blocked-by', 'no-network-api');
  await expect(noNetwork.page.locator('#eligibility')).toContainText('does not report the connection type');
  await expect.poll(population).toMatchObject({ total: 1, eligible: 0 });
  await noNetwork.context.close();
});
