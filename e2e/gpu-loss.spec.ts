import { expect, test } from '@playwright/test';
import { CHROMIUM_ARGS } from '../playwright.config.ts';
import { api, withCoordinator } from './coordinator.ts';

// WebGPU is exposed by headless Chromium through SwiftShader once unsafe WebGPU is enabled.
test.use({
  launchOptions: {
    executablePath: process.env.POLLEN_CHROMIUM ?? '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS, '--enable-unsafe-webgpu'],
  },
});

interface Round {
  status: string;
  backends: Record<string, number>;
}

test('a tab whose GPU device is lost falls back down the chain and rejoins', async ({ page }) => {
  await withCoordinator(
    {
      task: {
        id: 'mnist-gpu-loss',
        model: { kind: 'mlp', hidden: [16] },
        dataset: { name: 'mnist', partition: { kind: 'iid' }, numShards: 40, seed: 3 },
        rounds: {
          cohortSize: 1,
          minReports: 1,
          minClients: 1,
          overSelection: 1,
          deadlineMs: 120_000,
          maxRounds: 0,
        },
      },
    },
    async (coordinator) => {
      const population = async (): Promise<Record<string, number>> =>
        (
          await api<{ population: { byBackend: Record<string, number> } }>(
            coordinator.url,
            '/api/tasks/mnist-gpu-loss',
          )
        ).population.byBackend;
      page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
      // No backend forced: the chain starts at WebGPU.
      await page.goto(`${coordinator.url}/?task=mnist-gpu-loss`);
      await page.locator('body[data-ready="true"]').waitFor();
      await page.locator('#consent').check();
      await page.locator('#start').click();
      await expect(page.locator('body')).toHaveAttribute('data-backend', 'webgpu', { timeout: 60_000 });
      await page.waitForFunction(() => Number(document.body.dataset.uploads ?? 0) >= 1, null, {
        timeout: 120_000,
      });
      expect(await population()).toEqual({ webgpu: 1 });
      const tensorsOnGpu = await page.locator('body').getAttribute('data-tensors');

      // Lose the device the way a driver reset does: the worker's WebGPU device is destroyed.
      const worker = page.workers().find((w) => w.url().includes('trainer.worker'))!;
      await worker.evaluate(() => {
        const engine = (globalThis as unknown as { _tfengine: { backend: { device: { destroy(): void } } } })
          ._tfengine;
        engine.backend.device.destroy();
      });
      await expect(page.locator('body')).not.toHaveAttribute('data-backend', 'webgpu', { timeout: 60_000 });
      const fallback = await page.locator('body').getAttribute('data-backend');
      expect(['webgl', 'wasm', 'cpu']).toContain(fallback);
      // Lost between rounds, the device's `lost` promise says so; lost mid-round, training fails first.
      await expect(page.locator('#backend-why')).toContainText(
        /webgpu \((the GPU device was lost|training failed on webgpu)/,
      );

      // Rejoined under the new backend, and its rounds count.
      await expect.poll(population, { timeout: 30_000 }).toEqual({ [fallback!]: 1 });
      await expect
        .poll(
          async () =>
            (await api<Round[]>(coordinator.url, '/api/tasks/mnist-gpu-loss/rounds')).some(
              (r) => r.status === 'committed' && r.backends[fallback!] === 1,
            ),
          { timeout: 120_000 },
        )
        .toBe(true);
      // The worker holds as many tensors as before the loss: the lost device's are forgotten.
      await expect(page.locator('body')).toHaveAttribute('data-tensors', tensorsOnGpu!);
      await page.screenshot({ path: test.info().outputPath('gpu-lost.png'), fullPage: true });
    },
  );
});
