import { expect, test } from '@playwright/test';
import { openContributor } from './contributors.ts';
import { evaluatedRounds, untilCompleted, withCoordinator } from './coordinator.ts';

interface Round {
  roundId: number;
  status: string;
  reported: number;
  metrics: { accuracy: number } | null;
  backends: Record<string, number>;
  clientMetrics: { heldOut?: { metrics: { loss: number; accuracy: number }; numExamples: number } }[];
}

test('five tabs train an MLP on IID shards to 0.85 held-out accuracy in 4 rounds, and report the global model on their own held-out digits', async ({
  browser,
}) => {
  await withCoordinator(
    {
      task: {
        id: 'mnist-e2e',
        dataset: { name: 'mnist', partition: { kind: 'iid' }, numShards: 5, seed: 7 },
        // Each tab keeps a fifth of its digits apart and scores the global model on them first.
        evaluation: { heldOutFraction: 0.2 },
        rounds: {
          cohortSize: 5,
          minReports: 4,
          minClients: 5,
          overSelection: 1,
          deadlineMs: 60_000,
          maxRounds: 4,
        },
      },
    },
    async (coordinator) => {
      const tabs = [];
      for (let i = 0; i < 5; i++)
        tabs.push(await openContributor(browser, coordinator.url, 'task=mnist-e2e&backend=wasm'));
      await untilCompleted(coordinator.url, 'mnist-e2e', {
        timeout: 5 * 60_000,
        intervals: [2000],
      });
      const rounds = await evaluatedRounds<Round>(coordinator.url, 'mnist-e2e');
      const committed = rounds.filter((r) => r.status === 'committed');
      expect(committed).toHaveLength(4);
      const last = committed.at(-1)!;
      console.log(
        `held-out accuracy by round: ${committed.map((r) => r.metrics?.accuracy.toFixed(3) ?? 'not evaluated').join(' ')}`,
      );
      // About 0.81 after the first round and 0.87 after the fourth on this split: the
      // model learns across rounds, not only in the first one.
      expect(last.metrics!.accuracy).toBeGreaterThanOrEqual(0.85);
      // Against the first version evaluated (one may be skipped for a newer one).
      const first = committed.find((r) => r.metrics !== null)!;
      if (first !== last) expect(last.metrics!.accuracy).toBeGreaterThan(first.metrics!.accuracy);
      expect(last.backends.wasm).toBeGreaterThanOrEqual(4);
      // Evaluation on the devices: every report carries the global model's accuracy on the
      // tab's own held-out digits, measured before it trained; it rises as the model learns.
      const onDevices = committed.map((r) => r.clientMetrics.map((m) => m.heldOut!));
      for (const reports of onDevices) {
        expect(reports.length).toBeGreaterThanOrEqual(4);
        for (const h of reports) {
          expect(h.numExamples).toBeGreaterThan(0);
          expect(h.metrics.accuracy).toBeGreaterThanOrEqual(0);
          expect(h.metrics.accuracy).toBeLessThanOrEqual(1);
        }
      }
      const mean = (reports: (typeof onDevices)[number]): number =>
        reports.reduce((s, h) => s + h.metrics.accuracy * h.numExamples, 0) /
        reports.reduce((s, h) => s + h.numExamples, 0);
      console.log(
        `global model on the tabs' held-out digits, by round: ${onDevices.map((r) => mean(r).toFixed(3)).join(' ')}`,
      );
      // Round 1 scores the untrained model (about chance); the last one a trained model.
      expect(mean(onDevices.at(-1)!)).toBeGreaterThan(mean(onDevices[0]!) + 0.3);
      await tabs[0]!.page.screenshot({ path: test.info().outputPath('contributor.png') });
      for (const tab of tabs) await tab.context.close();
    },
  );
});
