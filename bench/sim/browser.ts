import {
  type Browser,
  type BrowserContext,
  chromium,
  type Page,
  type WebSocketRoute,
} from '@playwright/test';
import { CHROMIUM_ARGS } from '../../playwright.config.ts';
import { BenchError } from '../lib/errors.ts';
import { sleep } from '../lib/stats.ts';
import type { Behaviour } from './behaviour.ts';
import { inBatches, type Population } from './population.ts';

/** Debian's Chromium (Playwright cannot download browsers here), or POLLEN_CHROMIUM. */
export const CHROMIUM_PATH = process.env.POLLEN_CHROMIUM ?? '/usr/bin/chromium';

/** Headless Chromium with the flags of playwright.config.ts; WebGPU through SwiftShader when asked. */
export async function launchChromium(webgpu: boolean): Promise<Browser> {
  try {
    return await chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_ARGS, ...(webgpu ? ['--enable-unsafe-webgpu'] : [])],
    });
  } catch (err) {
    throw new BenchError('BROWSER_FAILED', `cannot start ${CHROMIUM_PATH}: ${(err as Error).message}`);
  }
}

/** A simulated device: its own browser context (own IndexedDB, so its own client id and data). */
interface Tab {
  readonly index: number;
  readonly context: BrowserContext;
  page: Page | null;
  away: boolean;
  /** Rounds this tab already rolled its drop-out dice for. */
  readonly planned: Set<number>;
}

const START_TIMEOUT_MS = 90_000;

/**
 * Reports the contributor page's status (body[data-status] and the status line, which names
 * the round) to the harness, so it can tell when a tab was selected without polling 20 tabs.
 * A string, not a function: the page must not see the helpers the TypeScript loader adds.
 */
const WATCH_STATUS = `(() => {
  let last = '';
  const report = () => {
    const status = document.body ? document.body.dataset.status || '' : '';
    const line = document.getElementById('status');
    const detail = line ? line.textContent || '' : '';
    const key = status + '|' + detail;
    if (status && key !== last) {
      last = key;
      window.__pollenSimStatus(status, detail);
    }
  };
  new MutationObserver(report).observe(document, { subtree: true, attributes: true, childList: true, characterData: true });
})();`;

/**
 * Socket.io sends an event with a binary attachment as a text frame `45<n>-<ack>["update",...]`
 * followed by its binary frames. Holding socket.io frames in order behind a delayed update
 * header adds latency to the upload only; engine.io's ping/pong (frames '2', '3') pass at
 * once, so the held connection is not timed out.
 */
function delayUploads(ws: WebSocketRoute, delayFor: (roundId: number) => number | null): void {
  const server = ws.connectToServer();
  let chain = Promise.resolve();
  ws.onMessage((message) => {
    if (typeof message === 'string' && !message.startsWith('4')) {
      server.send(message);
      return;
    }
    let delay: number | null = 0;
    if (typeof message === 'string' && /^45\d+-\d*\["update"/.test(message)) {
      const roundId = Number(/"roundId":(\d+)/.exec(message)?.[1] ?? 0);
      delay = delayFor(roundId);
    }
    // null: this update belongs to a drop-out; hold it (and what follows) until the tab closes.
    chain = chain.then(async () => {
      if (delay === null) await new Promise<never>(() => undefined);
      if (delay !== null && delay > 0) await sleep(delay);
      server.send(message);
    });
  });
  server.onMessage((message) => ws.send(message));
}

/**
 * Open `count` contributor tabs in one headless Chromium, each in its own context, forced
 * onto `backend`; consent, start, and wait until each is connected. Drop-outs close (or
 * stop) a tab when it is selected, churn closes and reopens tabs between rounds, latency
 * holds uploads on the WebSocket.
 */
export async function startBrowserPopulation(options: {
  url: string;
  taskId: string;
  count: number;
  backend: 'wasm' | 'webgl' | 'webgpu';
  concurrency: number;
  behaviour: Behaviour;
  latency: boolean;
  log: (line: string) => void;
}): Promise<Population> {
  const { behaviour } = options;
  const browser = await launchChromium(options.backend === 'webgpu');
  const counters = { opened: 0, reopened: 0, closedForDropout: 0, withdrawn: 0, pageErrors: 0 };
  let lastPageError = '';
  let closing = false;
  const tabs: Tab[] = [];
  const background = new Set<Promise<void>>();
  const track = (p: Promise<void>): void => {
    const q = p.catch((err: unknown) => {
      if (!closing) options.log(`tab error: ${(err as Error).message}`);
    });
    background.add(q);
    void q.finally(() => background.delete(q));
  };

  const openPage = async (tab: Tab): Promise<void> => {
    const page = await tab.context.newPage();
    page.on('pageerror', (err) => {
      counters.pageErrors++;
      lastPageError = err.message;
    });
    await page.goto(`${options.url}/?task=${options.taskId}&backend=${options.backend}`);
    await page.locator('body[data-ready="true"]').waitFor({ timeout: START_TIMEOUT_MS });
    await page.locator('#consent').check();
    await page.locator('#start').click();
    await page
      .locator('body[data-status="waiting"], body[data-status="training"], body[data-status="uploading"]')
      .waitFor({ timeout: START_TIMEOUT_MS });
    tab.page = page;
  };

  /** Close the tab's page and open it again (same context: the same device) after `ms`. */
  const leaveFor = async (tab: Tab, ms: number, withdraw: boolean): Promise<void> => {
    if (tab.away || !tab.page || closing) return;
    tab.away = true;
    const page = tab.page;
    tab.page = null;
    if (withdraw) {
      counters.withdrawn++;
      await page
        .locator('#stop')
        .click({ timeout: 5000 })
        .catch(() => undefined);
    }
    await page.close().catch(() => undefined);
    await sleep(ms);
    if (closing) return;
    await openPage(tab);
    counters.reopened++;
    tab.away = false;
  };

  const onStatus = (tab: Tab, status: string, detail: string): void => {
    if (status !== 'training' || tab.away) return;
    const roundId = Number(/round (\d+)/.exec(detail)?.[1] ?? Number.NaN);
    if (!Number.isFinite(roundId) || tab.planned.has(roundId)) return;
    tab.planned.add(roundId);
    const plan = behaviour.planRound(`tab-${tab.index}`, roundId);
    if (!plan.dropout) return;
    counters.closedForDropout++;
    // At once: a tab trains its shard in about a second, and a later close could miss the round.
    track(leaveFor(tab, behaviour.awayMs(), plan.dropout === 'withdraw'));
  };

  try {
    for (let index = 0; index < options.count; index++) {
      const context = await browser.newContext();
      const tab: Tab = { index, context, page: null, away: false, planned: new Set() };
      await context.exposeBinding('__pollenSimStatus', (_source, status: string, detail: string) =>
        onStatus(tab, status, detail),
      );
      await context.addInitScript(WATCH_STATUS);
      if (options.latency) {
        await context.routeWebSocket(/\/socket\.io\//, (ws) =>
          delayUploads(ws, (roundId) => {
            const plan = behaviour.planRound(`tab-${index}`, roundId);
            return plan.dropout ? null : plan.delayMs;
          }),
        );
      }
      tabs.push(tab);
    }
    await inBatches(tabs, options.concurrency, async (tab) => {
      await openPage(tab);
      counters.opened++;
      if (counters.opened % 5 === 0 || counters.opened === tabs.length) {
        options.log(`${counters.opened}/${tabs.length} tabs connected`);
      }
    });
  } catch (err) {
    closing = true;
    await browser.close().catch(() => undefined);
    throw new BenchError('BROWSER_FAILED', `opening the tabs failed: ${(err as Error).message}`);
  }

  return {
    size: tabs.length,
    connected: () => tabs.filter((t) => t.page && !t.away).length,
    churn() {
      for (const tab of tabs) {
        const away = behaviour.churnAfterRound();
        if (away !== null) track(leaveFor(tab, away, false));
      }
    },
    stats: () => ({ ...counters, ...(lastPageError ? { lastPageError } : {}) }),
    async close() {
      closing = true;
      await Promise.race([Promise.allSettled([...background]), sleep(10_000)]);
      await browser.close().catch(() => undefined);
    },
  };
}
