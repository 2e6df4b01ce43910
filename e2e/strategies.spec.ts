import { type BrowserContext, expect, type Page, test } from '@playwright/test';
import { evaluatedRounds, removeDataDir, startCoordinator, untilCompleted } from './coordinator.ts';
import { POLLEN_DB_VERSION } from './indexeddb.ts';

// The page functions below run in Chromium. The specs' tsconfig has Node's types only (the DOM
// lib would retype fetch for every spec), so the few IndexedDB shapes they use are declared here.
interface IdbRequest<T> {
  readonly result: T;
  readonly error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbStore {
  put(value: unknown, key: string): void;
  get(key: string): IdbRequest<Record<string, unknown> | string | undefined>;
  createIndex(name: string, keyPath: string): void;
}
interface IdbDatabase {
  readonly version: number;
  createObjectStore(name: string, options?: { autoIncrement: boolean }): IdbStore;
  transaction(
    names: string | string[],
    mode?: 'readonly' | 'readwrite',
  ): {
    objectStore(name: string): IdbStore;
    oncomplete: (() => void) | null;
  };
  close(): void;
}
declare const indexedDB: {
  open(name: string, version?: number): IdbRequest<IdbDatabase> & { onupgradeneeded: (() => void) | null };
};

interface Round {
  status: string;
  reported: number;
  metrics: { accuracy: number } | null;
}

interface Stored {
  version: number;
  clientId: unknown;
  length: number | null;
  roundId: number | null;
  finite: boolean;
}

/**
 * Before the page loads: the database a version-1 client left behind (client id and the two
 * stores of version 1, no control variates), so the upgrade to version 2 is what runs.
 */
function seedVersion1(clientId: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open('pollen', 1);
    req.onupgradeneeded = () => {
      const db = req.result;
      db.createObjectStore('meta');
      db.createObjectStore('examples', { autoIncrement: true }).createIndex('taskId', 'taskId');
    };
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const db = req.result;
      const tx = db.transaction('meta', 'readwrite');
      tx.objectStore('meta').put(clientId, 'clientId');
      tx.oncomplete = () => {
        db.close();
        resolve();
      };
    };
  });
}

/** What the device kept: the database version, its client id and SCAFFOLD's c_i for the task. */
function readStored(taskId: string): Promise<Stored> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open('pollen');
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const db = req.result;
      const tx = db.transaction(['meta', 'controls']);
      const id = tx.objectStore('meta').get('clientId');
      const control = tx.objectStore('controls').get(taskId);
      tx.oncomplete = () => {
        const stored = control.result as { values: Float32Array; roundId: number } | undefined;
        const values = stored?.values;
        resolve({
          version: db.version,
          clientId: id.result,
          length: values?.length ?? null,
          roundId: stored?.roundId ?? null,
          finite: values ? values.every(Number.isFinite) && values.some((v) => v !== 0) : false,
        });
        db.close();
      };
    };
  });
}

async function openDevice(
  browser: import('@playwright/test').Browser,
  url: string,
  clientId: string,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
  await page.goto(`${url}/healthz`);
  await page.evaluate(seedVersion1, clientId);
  await page.goto(`${url}/?task=mnist-scaffold&backend=wasm`);
  await page.locator('body[data-ready="true"]').waitFor();
  await page.locator('#consent').check();
  await page.locator('#start').click();
  await page
    .locator('body[data-status="waiting"], body[data-status="training"], body[data-status="uploading"]')
    .waitFor({ timeout: 60_000 });
  return { context, page };
}

test('SCAFFOLD with FedProx trains in the browser and keeps c_i in an upgraded IndexedDB', async ({
  browser,
}) => {
  const coordinator = await startCoordinator({
    task: {
      id: 'mnist-scaffold',
      model: { kind: 'mlp', hidden: [32] },
      dataset: { name: 'mnist', partition: { kind: 'shards', shardsPerClient: 2 }, numShards: 10, seed: 3 },
      training: { epochs: 1, batchSize: 20, learningRate: 0.05, optimizer: 'sgd' },
      rounds: {
        cohortSize: 2,
        minReports: 2,
        minClients: 2,
        overSelection: 1,
        deadlineMs: 60_000,
        maxRounds: 2,
      },
      strategy: { scaffold: true, mu: 0.01 },
    },
  });
  try {
    const ids = ['e2e-device-0001', 'e2e-device-0002'];
    const devices = [];
    for (const id of ids) devices.push(await openDevice(browser, coordinator.url, id));
    await untilCompleted(coordinator.url, 'mnist-scaffold', {
      timeout: 3 * 60_000,
      intervals: [1000],
    });
    const rounds = await evaluatedRounds<Round>(coordinator.url, 'mnist-scaffold');
    expect(rounds.map((r) => [r.status, r.reported])).toEqual([
      ['committed', 2],
      ['committed', 2],
    ]);
    expect(rounds[1]!.metrics!.accuracy).toBeGreaterThan(0.2);
    // 784 * 32 + 32 + 32 * 10 + 10 parameters; c_i of the last committed round, kept by each device.
    for (const [i, { page }] of devices.entries()) {
      await expect.poll(async () => (await page.evaluate(readStored, 'mnist-scaffold')).roundId).toBe(2);
      const stored = await page.evaluate(readStored, 'mnist-scaffold');
      expect(stored).toMatchObject({
        version: POLLEN_DB_VERSION,
        clientId: ids[i],
        length: 25_450,
        finite: true,
      });
    }
    for (const { context } of devices) await context.close();
  } catch (err) {
    console.error(coordinator.output().slice(-4000));
    throw err;
  } finally {
    await coordinator.stop();
    removeDataDir(coordinator.dataDir);
  }
});
