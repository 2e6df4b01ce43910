import { expect, test } from '@playwright/test';
import { CHROMIUM_ARGS } from '../playwright.config.ts';
import { openContributor } from './contributors.ts';
import { api, untilCompleted, withCoordinator } from './coordinator.ts';

// WebGPU is exposed by headless Chromium through SwiftShader once unsafe WebGPU is enabled.
test.use({
  launchOptions: {
    executablePath: process.env.POLLEN_CHROMIUM ?? '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS, '--enable-unsafe-webgpu'],
  },
});

test('a tab forced onto WebGPU trains through a full round and the coordinator records the backend', async ({
  browser,
}) => {
  await withCoordinator(
    {
      task: {
        id: 'mnist-webgpu',
        model: { kind: 'mlp', hidden: [16] },
        dataset: { name: 'mnist', partition: { kind: 'iid' }, numShards: 40, seed: 3 },
        rounds: {
          cohortSize: 1,
          minReports: 1,
          minClients: 1,
          overSelection: 1,
          deadlineMs: 120_000,
          maxRounds: 1,
        },
      },
    },
    async (coordinator) => {
      const { page, context } = await openContributor(
        browser,
        coordinator.url,
        'task=mnist-webgpu&backend=webgpu',
      );
      await expect(page.locator('body')).toHaveAttribute('data-backend', 'webgpu');
      await untilCompleted(coordinator.url, 'mnist-webgpu', {
        timeout: 180_000,
        intervals: [1000],
      });
      const [round] = await api<{ status: string; backends: Record<string, number> }[]>(
        coordinator.url,
        '/api/tasks/mnist-webgpu/rounds',
      );
      expect(round!.status).toBe('committed');
      expect(round!.backends).toEqual({ webgpu: 1 });
      await page.screenshot({ path: test.info().outputPath('webgpu-contributor.png') });
      await context.close();
    },
  );
});
