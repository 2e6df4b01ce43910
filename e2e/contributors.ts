import type { Browser, BrowserContext, Page } from '@playwright/test';

/** Open the contributor page in a fresh context (a separate device), consent and start. */
export async function openContributor(
  browser: Browser,
  url: string,
  query = 'backend=wasm',
  /** Called on the new context before the page opens (to route its WebSocket, say). */
  prepare?: (context: BrowserContext) => Promise<void>,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext();
  await prepare?.(context);
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
  await page.goto(`${url}/?${query}`);
  await page.locator('body[data-ready="true"]').waitFor();
  await page.locator('#consent').check();
  await page.locator('#start').click();
  // Connected: waiting for a round, or already in one.
  await page
    .locator('body[data-status="waiting"], body[data-status="training"], body[data-status="uploading"]')
    .waitFor({ timeout: 60_000 });
  return { context, page };
}
