import { type BrowserContext, expect, type Page, test, type Worker } from '@playwright/test';
import { openContributor } from './contributors.ts';
import { api, OPERATOR_TOKEN, withCoordinator } from './coordinator.ts';

interface Round {
  status: string;
  selected: number;
  reported: number;
  reason: string | null;
}

/** What the worker keeps of its last secure round (apps/web-client/src/worker/secagg.ts). */
interface Trace {
  roundId: number;
  stage: string;
  delta: number[] | null;
}

const TASK = 'mnist-secure';
const RANGE = 1;

/** The training worker of a tab (the page also runs a worker for trying the model). */
async function workerOf(page: Page): Promise<Worker> {
  const trainer = (): Worker | undefined => page.workers().find((w) => w.url().includes('trainer.worker'));
  await expect.poll(() => trainer() !== undefined, { timeout: 30_000 }).toBe(true);
  return trainer()!;
}

async function traceOf(worker: Worker): Promise<Trace | null> {
  return worker.evaluate(() => {
    const t = (
      globalThis as { pollenSecAgg?: { roundId: number; stage: string; delta: Float32Array | null } }
    ).pollenSecAgg;
    return t ? { roundId: t.roundId, stage: t.stage, delta: t.delta ? Array.from(t.delta) : null } : null;
  });
}

/** What a leaver's socket has seen: whether the coordinator acknowledged its shares. */
interface Leaver {
  sharesAcked: boolean;
}

/**
 * A leaver's socket: everything passes until its masked input, which is held on the wire
 * (with whatever follows) until the tab closes. So it leaves after its shares went out and
 * before the coordinator has its input, however fast it trains. `leaver.sharesAcked` turns true
 * once the coordinator acknowledged the shares, which the test waits for before closing the tab.
 */
function holdMaskedInput(leaver: Leaver): (context: BrowserContext) => Promise<void> {
  return (context) =>
    context.routeWebSocket(/\/socket\.io\//, (ws) => {
      const server = ws.connectToServer();
      let held = false;
      let sharesAck: string | null = null;
      ws.onMessage((message) => {
        // A Socket.io event with binary attachments: 45<count>-<ack id>["secagg:masked", ...
        if (typeof message === 'string' && /^45\d+-\d*\["secagg:masked"/.test(message)) held = true;
        const shares = typeof message === 'string' ? /^45\d+-(\d+)\["secagg:shares"/.exec(message) : null;
        if (shares) sharesAck = shares[1]!;
        if (!held) server.send(message);
      });
      server.onMessage((message) => {
        // The acknowledgement of the shares: 43<ack id>[...
        if (sharesAck !== null && typeof message === 'string' && message.startsWith(`43${sharesAck}[`)) {
          leaver.sharesAcked = true;
        }
        ws.send(message);
      });
    });
}

async function weights(url: string, version: number): Promise<Float32Array> {
  const res = await fetch(`${url}/api/tasks/${TASK}/model/weights.bin?version=${version}`, {
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
  });
  if (!res.ok) throw new Error(`weights of version ${version}: ${res.status}`);
  return new Float32Array(await res.arrayBuffer());
}

test('secure aggregation: 8 tabs, 2 closed after sending their shares, the mean of the 6 survivors is applied', async ({
  browser,
}) => {
  await withCoordinator(
    {
      task: {
        id: TASK,
        model: { kind: 'mlp', hidden: [16] },
        dataset: { name: 'mnist', partition: { kind: 'iid' }, numShards: 24, seed: 3 },
        training: { epochs: 2, batchSize: 16, learningRate: 0.05, optimizer: 'sgd' },
        rounds: {
          cohortSize: 8,
          minReports: 6,
          minClients: 8,
          overSelection: 1,
          deadlineMs: 240_000,
          maxRounds: 1,
        },
        secureAggregation: { range: RANGE, stageMs: 60_000 },
      },
    },
    async (coordinator) => {
      // The two that will leave have their masked input held on the wire (holdMaskedInput) and
      // are closed once their shares went out.
      const tabs = [];
      const leavers: Leaver[] = [{ sharesAcked: false }, { sharesAcked: false }];
      for (let i = 0; i < 8; i++) {
        const prepare = i < 2 ? holdMaskedInput(leavers[i]!) : undefined;
        tabs.push(await openContributor(browser, coordinator.url, `task=${TASK}&backend=wasm`, prepare));
      }
      const workers = await Promise.all(tabs.map((t) => workerOf(t.page)));
      const leaving = tabs.slice(0, 2);
      for (const [i, tab] of leaving.entries()) {
        await expect
          .poll(async () => (await traceOf(workers[i]!))?.stage, { timeout: 120_000 })
          .toMatch(/^(shared|masked)$/);
        // Its shares went out with the stage: it goes once the coordinator has them.
        await expect.poll(() => leavers[i]!.sharesAcked, { timeout: 60_000 }).toBe(true);
        await tab.context.close();
      }

      await expect
        .poll(async () => (await api<Round[]>(coordinator.url, `/api/tasks/${TASK}/rounds`))[0]?.status, {
          timeout: 240_000,
          intervals: [1000],
        })
        .toBe('committed');
      const [round] = await api<Round[]>(coordinator.url, `/api/tasks/${TASK}/rounds`);
      expect(round).toMatchObject({ selected: 8, reported: 6, reason: null });
      // Both leavers were in the share stage: their masks were removed, not their whole stage.
      expect(coordinator.output()).toMatch(/"stage":"share","missing":0/);
      expect(coordinator.output()).toMatch(/"stage":"mask","missing":2,"dropped":2/);

      // The survivors' real updates, as each worker masked them, against what was applied.
      const survivors = await Promise.all(workers.slice(2).map(traceOf));
      for (const t of survivors) expect(t).toMatchObject({ stage: 'revealed' });
      const [v0, v1] = [await weights(coordinator.url, 0), await weights(coordinator.url, 1)];
      const deltas = survivors.map((t) => t!.delta!);
      expect(deltas.every((d) => d.length === v0.length)).toBe(true);
      let worst = 0;
      let moved = 0;
      for (let j = 0; j < v0.length; j++) {
        let mean = 0;
        for (const d of deltas) mean += Math.max(-RANGE, Math.min(RANGE, d[j]!)) / deltas.length;
        worst = Math.max(worst, Math.abs(v1[j]! - v0[j]! - mean));
        moved = Math.max(moved, Math.abs(mean));
      }
      // 24-bit fixed point on [-1, 1]: each value is off by at most 2^-24; float32 weights add ~1e-7.
      expect(worst).toBeLessThan(1e-5);
      expect(moved).toBeGreaterThan(1e-3);
      for (const tab of tabs.slice(2)) await tab.context.close();
    },
  );
});
