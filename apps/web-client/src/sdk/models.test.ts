import 'fake-indexeddb/auto';
import { modelChecksum } from '@pollen/participation';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteDatabase, openLegacyDatabase } from './legacy-database.ts';
import * as storage from './storage.ts';

afterAll(deleteDatabase);

/** A browser as a visitor left it with database version 6: its client id, a residual and a base. */
function openVersion6(): Promise<void> {
  return openLegacyDatabase(6, (tx) => {
    tx.objectStore('meta').put('0123456789abcdef0123456789abcdef', 'clientId');
    tx.objectStore('residuals').put(
      { taskId: 'digits', values: Float32Array.of(0.5), roundId: 3, updatedAt: 1 },
      'digits',
    );
    tx.objectStore('bases').put({
      checksum: 'c'.repeat(64),
      taskId: 'chat',
      frame: new Uint8Array(4),
      savedAt: 1,
    });
  });
}

describe('broadcast models on the device (compressed downloads)', () => {
  it('are kept per task, one version at a time, after an upgrade from version 6 that keeps the rest', async () => {
    await openVersion6();
    expect(storage.DB_VERSION).toBe(7);
    expect(await storage.clientId()).toBe('0123456789abcdef0123456789abcdef');
    expect(await storage.loadResidual('digits', 1)).toEqual(Float32Array.of(0.5));
    expect((await storage.loadBase('chat', null))?.checksum).toBe('c'.repeat(64));
    expect(await storage.loadModel('digits')).toBeNull();

    const v3 = Float32Array.of(1, 2, 3);
    await storage.saveModel('digits', { version: 3, checksum: await modelChecksum(v3), weights: v3 });
    const v4 = Float32Array.of(1, 2, 4);
    await storage.saveModel('digits', { version: 4, checksum: await modelChecksum(v4), weights: v4 });
    await storage.saveModel('chat', { version: 1, checksum: await modelChecksum(v3), weights: v3 });
    const kept = await storage.loadModel('digits');
    expect(kept).toMatchObject({ taskId: 'digits', version: 4, checksum: await modelChecksum(v4) });
    expect(kept!.weights).toEqual(v4);

    await storage.clearModel('digits');
    expect(await storage.loadModel('digits')).toBeNull();
    expect((await storage.loadModel('chat'))?.version).toBe(1);
  });
});
