import { writeFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { openContributor } from './contributors.ts';
import { untilCompleted, withCoordinator } from './coordinator.ts';
import { HeapProbe, type HeapSample } from './heap.ts';

/** 50 by default; POLLEN_SOAK_ROUNDS runs a longer soak by hand. */
const ROUNDS = Number(process.env.POLLEN_SOAK_ROUNDS ?? 50);
/** Rounds where the heaps are read (after a garbage collection); the first is after warm-up. */
const HEAP_AT = [5, ...Array.from({ length: 10 }, (_, i) => Math.round(((i + 1) * ROUNDS) / 10))].filter(
  (r, i, all) => r >= 5 && all.indexOf(r) === i,
);
/** Heap growth allowed from the first reading to the last: noise, not a leak of a round's tensors. */
const HEAP_SLACK_BYTES = 1024 * 1024;

interface Reading {
  readonly round: number;
  readonly tensors: number;
  readonly tensorBytes: number;
  readonly heap?: HeapSample;
}

test(`a tab trains ${ROUNDS} rounds without its memory growing`, async ({ browser }) => {
  test.setTimeout(Math.max(4 * 60_000, ROUNDS * 2000));
  await withCoordinator(
    {
      task: {
        id: 'mnist-soak',
        model: { kind: 'mlp', hidden: [8] },
        dataset: { name: 'mnist', partition: { kind: 'iid' }, numShards: 100, seed: 9 },
        training: { epochs: 1, batchSize: 16, learningRate: 0.1, optimizer: 'sgd' },
        rounds: {
          cohortSize: 1,
          minReports: 1,
          minClients: 1,
          overSelection: 1,
          deadlineMs: 30_000,
          maxRounds: ROUNDS,
        },
      },
    },
    async (coordinator) => {
      const started = Date.now();
      const { page, context } = await openContributor(
        browser,
        coordinator.url,
        'task=mnist-soak&backend=wasm',
      );
      const read = (): Promise<{ uploads: number; tensors: number; bytes: number }> =>
        page.evaluate(() => ({
          uploads: Number(document.body.dataset.uploads ?? 0),
          tensors: Number(document.body.dataset.tensors ?? -1),
          bytes: Number(document.body.dataset.tensorBytes ?? -1),
        }));
      await page.waitForFunction(() => Number(document.body.dataset.uploads ?? 0) >= 1);
      const heap = await HeapProbe.attach(browser, page, 'trainer.worker');

      // Follow the tab round by round; read the heaps at the chosen rounds, pausing the task
      // meanwhile so the reading is between rounds.
      const readings: Reading[] = [];
      let seen = 0;
      while (seen < ROUNDS) {
        const now = await read();
        if (now.uploads > seen) {
          seen = now.uploads;
          const reading: Reading = { round: seen, tensors: now.tensors, tensorBytes: now.bytes };
          if (HEAP_AT.some((r) => r <= seen && !readings.some((x) => x.heap && x.round >= r))) {
            readings.push({ ...reading, heap: await heap.sample() });
          } else {
            readings.push(reading);
          }
        } else {
          await page.waitForTimeout(20);
        }
      }
      await untilCompleted(coordinator.url, 'mnist-soak');
      const seconds = (Date.now() - started) / 1000;

      const tensors = new Set(readings.map((r) => r.tensors));
      const bytes = new Set(readings.map((r) => r.tensorBytes));
      const heaps = readings.filter((r) => r.heap);
      const first = heaps[0]!.heap!;
      const last = heaps.at(-1)!.heap!;
      const report = {
        rounds: ROUNDS,
        roundsSampled: readings.length,
        seconds,
        numTensors: [...tensors],
        tensorBytes: [...bytes],
        heap: heaps.map((r) => ({ round: r.round, pageBytes: r.heap!.page, workerBytes: r.heap!.worker })),
        growth: { pageBytes: last.page - first.page, workerBytes: last.worker - first.worker },
      };
      console.log(`soak: ${JSON.stringify(report)}`);
      writeFileSync(test.info().outputPath('soak.json'), JSON.stringify(report, null, 2));
      await test
        .info()
        .attach('soak.json', { body: JSON.stringify(report, null, 2), contentType: 'application/json' });
      await page.screenshot({ path: test.info().outputPath('soak-contributor.png'), fullPage: true });

      expect(readings.length).toBeGreaterThanOrEqual(ROUNDS / 2);
      expect([...tensors]).toHaveLength(1);
      expect([...bytes]).toHaveLength(1);
      expect(last.worker - first.worker).toBeLessThan(HEAP_SLACK_BYTES);
      expect(last.page - first.page).toBeLessThan(HEAP_SLACK_BYTES);
      await context.close();
    },
  );
});
