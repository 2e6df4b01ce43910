import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeExamples } from '@pollen/compression';
import { build } from 'vite';
import type { ThroughputRequest, ThroughputResult } from '../browser/throughput.ts';
import { loadMnist } from '../lib/mnist.ts';
import { ROOT } from '../lib/paths.ts';
import { serveFolder } from '../lib/static-server.ts';
import { median, sig } from '../lib/stats.ts';
import { launchChromium } from '../sim/browser.ts';
import type { BenchContext, BenchRow, Suite } from './types.ts';

const BACKENDS = ['wasm', 'webgl', 'webgpu'] as const;

/** Build bench/browser (the contributor's backends.ts and train.ts behind a timing page). */
async function buildPage(outDir: string): Promise<void> {
  await build({
    root: join(ROOT, 'bench/browser'),
    logLevel: 'warn',
    configFile: false,
    build: { outDir, emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 8192 },
  });
  const { train } = loadMnist();
  writeFileSync(join(outDir, 'mnist.bin'), encodeExamples(train));
}

/**
 * Browser training throughput per backend (WASM, WebGL and WebGPU, the last two through
 * SwiftShader on this GPU-less machine): samples per second of Pollen's training step
 * (train.ts's trainLocal: load weights, compile, fit, read weights, delta) against plain
 * `model.fit` on the same model, data and backend in the same tab.
 */
export const backendsSuite: Suite = {
  id: 'backends',
  title: 'Browser training throughput per backend',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const outDir = mkdtempSync(join(tmpdir(), 'pollen-bench-page-'));
    ctx.log('backends: building the page');
    await buildPage(outDir);
    const server = await serveFolder(outDir);
    const browser = await launchChromium(true);
    const rows: BenchRow[] = [];
    try {
      const backends = ctx.tiny ? (['wasm'] as const) : BACKENDS;
      const results = new Map<string, ThroughputResult>();
      for (const backend of backends) {
        ctx.log(`backends: ${backend}`);
        const req: ThroughputRequest = {
          backend,
          examples: ctx.tiny ? 64 : 512,
          epochs: 1,
          batchSize: 32,
          hidden: 128,
          runs: ctx.runs,
        };
        const context = await browser.newContext();
        try {
          const page = await context.newPage();
          await page.goto(`${server.url}/index.html`);
          await page.locator('body[data-ready="true"]').waitFor({ timeout: 60_000 });
          const result = await page.evaluate(
            (r) =>
              (
                window as unknown as { pollenThroughput: (q: ThroughputRequest) => Promise<ThroughputResult> }
              ).pollenThroughput(r),
            req,
          );
          results.set(backend, result);
        } finally {
          await context.close();
        }
      }
      const wasm = results.get('wasm');
      const wasmRate = wasm?.pollen.length ? median(wasm.pollen) : null;
      for (const backend of backends) {
        const r = results.get(backend)!;
        const ran = r.backend === backend && r.pollen.length > 0;
        const value = ran ? median(r.pollen) : null;
        const base = ran ? median(r.plain) : null;
        rows.push({
          suite: 'backends',
          name: `samples/s, ${backend}${backend === 'wasm' ? '' : ' (SwiftShader)'}, 784-128-10 MLP, batch 32`,
          value: value === null ? null : sig(value),
          unit: 'samples/s',
          baseline: {
            name: 'plain model.fit, same tab and backend',
            value: base === null ? null : sig(base),
            unit: 'samples/s',
          },
          ratio: value !== null && base !== null ? sig(value / base) : null,
          ratioMeaning: 'x plain model.fit',
          runs: ctx.runs,
          extra: {
            vsWasm: value !== null && wasmRate !== null ? sig(value / wasmRate) : null,
            ...(ran ? {} : { unavailable: `got ${r.backend}; ${r.skipped}` }),
          },
          note: 'trainLocal in the page thread (the contributor runs it in a Web Worker)',
        });
      }
    } finally {
      await browser.close().catch(() => undefined);
      await server.close();
      rmSync(outDir, { recursive: true, force: true });
    }
    return rows;
  },
};
