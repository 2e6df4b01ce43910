import { expect, test } from '@playwright/test';
import { openContributor } from './contributors.ts';
import { api, evaluatedRounds, OPERATOR_TOKEN, untilCompleted, withCoordinator } from './coordinator.ts';

interface Round {
  roundId: number;
  status: string;
  reported: number;
  metrics: { accuracy: number } | null;
  privacy?: {
    epsilon: number | null;
    clipNorm: number;
    noiseStd: number;
    clipBits?: { noisedFraction: number; nextClipNorm: number };
  };
}

interface Privacy {
  status: string;
  epsilon: number | null;
  rounds: number;
  clipNorm: number;
}

test('three tabs clip, noise and send clipping bits; rounds commit and the ledger spends epsilon', async ({
  browser,
}) => {
  await withCoordinator(
    {
      task: {
        id: 'mnist-dp',
        model: { kind: 'mlp', hidden: [32] },
        dataset: { name: 'mnist', partition: { kind: 'iid' }, numShards: 12, seed: 3 },
        rounds: {
          cohortSize: 3,
          minReports: 2,
          minClients: 3,
          overSelection: 1,
          deadlineMs: 60_000,
          maxRounds: 3,
        },
        privacy: {
          mode: 'distributed',
          noiseMultiplier: 0.5,
          adaptive: { targetQuantile: 0.5, learningRate: 0.2, initialClip: 1 },
          delta: 1e-5,
          epsilonBudget: 1000,
        },
      },
    },
    async (coordinator) => {
      const tabs = [];
      for (let i = 0; i < 3; i++)
        tabs.push(await openContributor(browser, coordinator.url, 'task=mnist-dp&backend=wasm'));
      await untilCompleted(coordinator.url, 'mnist-dp', {
        timeout: 4 * 60_000,
        intervals: [2000],
      });

      const rounds = await evaluatedRounds<Round>(coordinator.url, 'mnist-dp');
      const committed = rounds.filter((r) => r.status === 'committed');
      expect(committed).toHaveLength(3);
      const epsilons = committed.map((r) => r.privacy!.epsilon!);
      console.log(`epsilon by round: ${epsilons.map((e) => e.toFixed(2)).join(' ')}`);
      console.log(`clip norm by round: ${committed.map((r) => r.privacy!.clipNorm.toFixed(3)).join(' ')}`);
      expect(epsilons[0]).toBeGreaterThan(0);
      expect(epsilons[1]).toBeGreaterThan(epsilons[0]!);
      expect(epsilons[2]).toBeGreaterThan(epsilons[1]!);
      for (const r of committed) {
        expect(r.reported).toBeGreaterThanOrEqual(2);
        // Every report carried its bit, so C moved: the next round uses the C this one computed.
        expect(r.privacy!.clipBits).toBeDefined();
      }
      const lastAccuracy = committed.at(-1)!.metrics!.accuracy!;
      expect(lastAccuracy).toBeGreaterThanOrEqual(0);
      expect(lastAccuracy).toBeLessThanOrEqual(1);
      expect(committed[1]!.privacy!.clipNorm).toBeCloseTo(committed[0]!.privacy!.clipBits!.nextClipNorm, 9);

      const privacy = await api<Privacy>(coordinator.url, '/api/tasks/mnist-dp/privacy');
      expect(privacy.rounds).toBe(3);
      expect(privacy.epsilon).toBeCloseTo(epsilons[2]!, 9);
      expect(privacy.clipNorm).toBeCloseTo(committed[2]!.privacy!.clipBits!.nextClipNorm, 9);

      // The operator's dashboard shows the epsilon spent.
      const operator = await browser.newContext();
      const dashboard = await operator.newPage();
      await dashboard.goto(`${coordinator.url}/dashboard?task=mnist-dp`);
      await dashboard.locator('#token').fill(OPERATOR_TOKEN);
      await dashboard.locator('#login-form button').click();
      await expect(dashboard.locator('#tile-epsilon')).toHaveText(`${epsilons[2]!.toFixed(2)} / 1000`);
      await expect(dashboard.locator('#epsilon-chart canvas')).toBeVisible();
      await dashboard.screenshot({ path: test.info().outputPath('dashboard-privacy.png'), fullPage: true });
      await operator.close();
      for (const tab of tabs) await tab.context.close();
    },
  );
});
