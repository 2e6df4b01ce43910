import { expect, test } from '@playwright/test';
import { SignJWT } from 'jose';
import { api, withCoordinator } from './coordinator.ts';
import { readExamples } from './indexeddb.ts';

interface Round {
  status: string;
  reported: number;
  clientMetrics: { numExamples: number; backend: string }[];
}

/** The secret the host site's backend shares with the coordinator to sign join tokens. */
const JOIN_TOKEN_SECRET = 'e2e-host-site-join-token-secret-0123456789';

test('the SDK example page adds its own examples and trains through a round, admitted by a join token', async ({
  page,
}) => {
  await withCoordinator(
    {
      env: { POLLEN_JOIN_TOKEN_SECRET: JOIN_TOKEN_SECRET },
      task: {
        admission: { joinToken: true },
        id: 'mnist-sdk',
        model: { kind: 'mlp', hidden: [16] },
        dataset: { name: 'mnist', partition: { kind: 'iid' }, numShards: 10, seed: 6 },
        rounds: {
          cohortSize: 1,
          minReports: 1,
          minClients: 1,
          overSelection: 1,
          deadlineMs: 60_000,
          maxRounds: 1,
        },
      },
    },
    async (coordinator) => {
      page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
      await page.goto(`${coordinator.url}/sdk-example.html?task=mnist-sdk&backend=wasm`);
      await page.locator('body[data-ready="true"]').waitFor();
      await page.locator('#add-examples').click();
      await expect(page.locator('body')).toHaveAttribute('data-examples', /^[1-9]\d*$/);
      const stored = await page.evaluate(readExamples, 'mnist-sdk');
      expect(stored.length).toBeGreaterThanOrEqual(60);
      expect(new Set(stored.map((e) => e.source))).toEqual(new Set(['host']));
      expect(new Set(stored.map((e) => e.y))).toEqual(new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));

      // Without a join token the task does not admit this page.
      await expect(page.locator('#contribute')).toBeDisabled();
      await page.locator('#agree').check();
      await page.locator('#contribute').click();
      await expect(page.locator('#log')).toContainText('JOIN_TOKEN_REQUIRED');
      await expect(page.locator('body')).toHaveAttribute('data-status', 'stopped');

      // The host's backend signs one for its signed-in user; the SDK passes it in the handshake.
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('host-user-1')
        .setAudience('mnist-sdk')
        .setExpirationTime('10m')
        .sign(new TextEncoder().encode(JOIN_TOKEN_SECRET));
      await page.goto(`${coordinator.url}/sdk-example.html?task=mnist-sdk&backend=wasm&joinToken=${token}`);
      await page.locator('body[data-ready="true"]').waitFor();
      await page.locator('#agree').check();
      await page.locator('#contribute').click();
      await expect(page.locator('body')).toHaveAttribute('data-uploads', '1', { timeout: 60_000 });
      await expect(page.locator('#log')).toContainText('round 1 committed');
      const [round] = await api<Round[]>(coordinator.url, '/api/tasks/mnist-sdk/rounds');
      expect(round).toMatchObject({ status: 'committed', reported: 1 });
      // It trained on the page's examples alone: no demo shard was loaded.
      expect(round!.clientMetrics[0]).toMatchObject({ numExamples: stored.length, backend: 'wasm' });
      await page.screenshot({ path: test.info().outputPath('sdk-example.png'), fullPage: true });
    },
  );
});
