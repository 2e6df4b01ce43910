import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'vite';
import type { MaskingRequest, MaskingResult } from '../browser/masking.ts';
import { ROOT } from '../lib/paths.ts';
import { serveFolder } from '../lib/static-server.ts';
import { median, sig } from '../lib/stats.ts';
import { launchChromium } from '../sim/browser.ts';
import type { BenchContext, BenchRow, Suite } from './types.ts';

/**
 * SecAgg+ client masking in a real Chromium tab (issue 16): fl-core's maskInput on @noble's
 * ChaCha20, as the contributor's worker runs it, at d = 100,000 with the coordinator's default
 * k for n = 100 and 500, against the raw keystream of the same number of words in the same tab
 * (the limit: masking is that expansion plus one add per word).
 */
export const secAggBrowserSuite: Suite = {
  id: 'secagg-browser',
  title: 'SecAgg+ client masking in Chromium',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const outDir = mkdtempSync(join(tmpdir(), 'pollen-bench-masking-'));
    ctx.log('secagg-browser: building the page');
    await build({
      root: join(ROOT, 'bench/browser'),
      logLevel: 'warn',
      configFile: false,
      build: {
        outDir,
        emptyOutDir: true,
        target: 'es2022',
        rollupOptions: { input: join(ROOT, 'bench/browser/secagg.html') },
      },
    });
    const server = await serveFolder(outDir);
    const browser = await launchChromium(false);
    const rows: BenchRow[] = [];
    try {
      const d = ctx.tiny ? 1000 : 100_000;
      for (const n of ctx.tiny ? [6] : [100, 500]) {
        ctx.log(`secagg-browser: n = ${n}, d = ${d}`);
        const context = await browser.newContext();
        try {
          const page = await context.newPage();
          await page.goto(`${server.url}/secagg.html`);
          await page.locator('body[data-ready="true"]').waitFor({ timeout: 60_000 });
          const req: MaskingRequest = { n, d, runs: ctx.runs };
          const result = await page.evaluate(
            (r) =>
              (window as unknown as { pollenMasking: (q: MaskingRequest) => MaskingResult }).pollenMasking(r),
            req,
          );
          const mask = median(result.maskMs);
          const prg = median(result.prgMs);
          rows.push({
            suite: 'secagg-browser',
            name: `one client's maskInput in Chromium, n = ${n} (k = ${result.k}), d = ${d.toLocaleString('en')}`,
            value: sig(mask),
            unit: 'ms',
            baseline: {
              name: `raw ChaCha20 keystream of the same ${result.masks} x d words, same tab`,
              value: sig(prg),
              unit: 'ms',
            },
            ratio: sig(mask / prg),
            ratioMeaning: 'x the raw keystream (1 is the limit)',
            runs: ctx.runs,
            extra: { masks: result.masks, mbPerSecond: sig((result.masks * d * 4) / 1e6 / (mask / 1000)) },
            note: 'in the page thread; the contributor runs it in its training worker',
          });
        } finally {
          await context.close();
        }
      }
    } finally {
      await browser.close().catch(() => undefined);
      await server.close();
      rmSync(outDir, { recursive: true, force: true });
    }
    return rows;
  },
};
