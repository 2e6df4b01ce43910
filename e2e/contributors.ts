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

/** Draw strokes on the pad with the mouse: each stroke is a list of points in pad fractions. */
export async function draw(page: Page, strokes: [number, number][][]): Promise<void> {
  await page.locator('#pad').scrollIntoViewIfNeeded();
  const box = (await page.locator('#pad').boundingBox())!;
  for (const stroke of strokes) {
    const [first, ...rest] = stroke;
    await page.mouse.move(box.x + first![0] * box.width, box.y + first![1] * box.height);
    await page.mouse.down();
    for (const [x, y] of rest) {
      await page.mouse.move(box.x + x * box.width, box.y + y * box.height, { steps: 8 });
    }
    await page.mouse.up();
  }
}

export const SEVEN: [number, number][][] = [
  [
    [0.25, 0.2],
    [0.75, 0.2],
    [0.45, 0.85],
  ],
];
