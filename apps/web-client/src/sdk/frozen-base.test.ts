import 'fake-indexeddb/auto';
import { encodeDense } from '@pollen/compression';
import { baseVector, sha256Hex } from '@pollen/participation';
import { afterAll, describe, expect, it } from 'vitest';
import { frozenBaseFor } from './frozen-base.ts';
import { deleteDatabase, openLegacyDatabase } from './legacy-database.ts';
import * as storage from './storage.ts';

afterAll(deleteDatabase);

/** A browser as a visitor left it with database version 5: its client id and an entry. */
function openVersion5(): Promise<void> {
  return openLegacyDatabase(5, (tx) => {
    tx.objectStore('meta').put('0123456789abcdef0123456789abcdef', 'clientId');
    tx.objectStore('entries').add({ taskId: 'chat', text: 'hello', label: null, addedAt: 1 });
  });
}

async function frame(values: number[]) {
  const bytes = encodeDense(Float32Array.from(values), 'f32');
  return { frame: bytes, checksum: await sha256Hex(bytes) };
}

describe("fine-tuning tasks' frozen bases on the device", () => {
  it('are kept by checksum, one per task, after an upgrade from version 5 that keeps the rest', async () => {
    await openVersion5();
    expect(await storage.clientId()).toBe('0123456789abcdef0123456789abcdef');
    expect((await storage.listEntries('chat')).map((e) => e.entry.text)).toEqual(['hello']);
    expect(await storage.loadBase('chat', null)).toBeUndefined();

    const first = await frame([1, 2, 3]);
    await storage.saveBase('chat', first.checksum, first.frame);
    expect((await storage.loadBase('chat', first.checksum))?.frame).toEqual(first.frame);
    expect((await storage.loadBase('chat', null))?.checksum).toBe(first.checksum);
    // Another task's checksum is not this task's base.
    expect(await storage.loadBase('other', first.checksum)).toBeUndefined();

    // A new base replaces the task's old one; another task's stays.
    const other = await frame([9]);
    await storage.saveBase('other', other.checksum, other.frame);
    const second = await frame([4, 5, 6]);
    await storage.saveBase('chat', second.checksum, second.frame);
    expect(await storage.loadBase('chat', first.checksum)).toBeUndefined();
    expect((await storage.loadBase('chat', null))?.checksum).toBe(second.checksum);
    expect((await storage.loadBase('other', null))?.checksum).toBe(other.checksum);

    // A round naming the kept checksum takes it from IndexedDB: nothing is downloaded.
    const base = await frozenBaseFor('http://127.0.0.1:9', 'chat', { checksum: second.checksum, bytes: 0 });
    expect(baseVector(base)).toEqual(Float32Array.of(4, 5, 6));

    await storage.clearBases('chat');
    expect(await storage.loadBase('chat', null)).toBeUndefined();
    expect(await storage.loadBase('other', null)).toBeDefined();
  });
});
