import type { Browser, CDPSession, Page } from '@playwright/test';

/** V8 heap in use, after a forced garbage collection, in bytes. */
export interface HeapSample {
  readonly page: number;
  readonly worker: number;
}

type Call = (method: string, params?: Record<string, unknown>) => Promise<Record<string, unknown>>;

/**
 * Reads the JS heap of a page and of one of its dedicated workers through the Chrome DevTools
 * Protocol, collecting garbage first so what is left is what is still referenced. Workers are
 * reached through a browser-level session (Target.attachToTarget, messages relayed by
 * Target.sendMessageToTarget), since Playwright opens CDP sessions on pages only.
 */
export class HeapProbe {
  private constructor(
    private readonly pageSession: CDPSession,
    private readonly workerCall: Call,
  ) {}

  static async attach(browser: Browser, page: Page, workerUrlPart: string): Promise<HeapProbe> {
    const pageSession = await page.context().newCDPSession(page);
    const cdp = await browser.newBrowserCDPSession();
    const { targetInfos } = (await cdp.send('Target.getTargets')) as {
      targetInfos: { targetId: string; type: string; url: string }[];
    };
    const target = targetInfos.find((t) => t.type === 'worker' && t.url.includes(workerUrlPart));
    if (!target) throw new Error(`no worker whose URL contains "${workerUrlPart}"`);
    const { sessionId } = (await cdp.send('Target.attachToTarget', {
      targetId: target.targetId,
      flatten: false,
    })) as { sessionId: string };
    let seq = 0;
    const waiting = new Map<number, (reply: { result?: Record<string, unknown>; error?: unknown }) => void>();
    cdp.on('Target.receivedMessageFromTarget', (event: { sessionId: string; message: string }) => {
      if (event.sessionId !== sessionId) return;
      const reply = JSON.parse(event.message) as { id?: number; result?: Record<string, unknown> };
      if (reply.id !== undefined) waiting.get(reply.id)?.(reply);
    });
    const workerCall: Call = (method, params = {}) =>
      new Promise((resolve, reject) => {
        const id = ++seq;
        waiting.set(id, (reply) => {
          waiting.delete(id);
          if (reply.error) reject(new Error(`${method}: ${JSON.stringify(reply.error)}`));
          else resolve(reply.result ?? {});
        });
        void cdp.send('Target.sendMessageToTarget', {
          sessionId,
          message: JSON.stringify({ id, method, params }),
        });
      });
    return new HeapProbe(pageSession, workerCall);
  }

  async sample(): Promise<HeapSample> {
    await this.pageSession.send('HeapProfiler.collectGarbage');
    const page = (await this.pageSession.send('Runtime.getHeapUsage')) as { usedSize: number };
    await this.workerCall('HeapProfiler.collectGarbage');
    const worker = (await this.workerCall('Runtime.getHeapUsage')) as { usedSize: number };
    return { page: page.usedSize, worker: worker.usedSize };
  }
}
