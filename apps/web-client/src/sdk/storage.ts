import { type DBSchema, type IDBPDatabase, openDB } from 'idb';

/** One labelled example kept on this device. */
export interface StoredExample {
  readonly taskId: string;
  /** 0..255 grey levels, row-major. */
  readonly x: Uint8Array;
  readonly y: number;
  readonly source: 'demo' | 'drawn' | 'host';
  readonly addedAt: number;
}

interface PollenDb extends DBSchema {
  meta: { key: string; value: unknown };
  examples: { key: number; value: StoredExample; indexes: { taskId: string } };
}

const DB_NAME = 'pollen';
const DB_VERSION = 1;

let dbPromise: Promise<IDBPDatabase<PollenDb>> | undefined;

/** The device's Pollen database (shared by the page and the training worker). */
export function openStore(): Promise<IDBPDatabase<PollenDb>> {
  dbPromise ??= openDB<PollenDb>(DB_NAME, DB_VERSION, {
    upgrade(db) {
      db.createObjectStore('meta');
      db.createObjectStore('examples', { autoIncrement: true }).createIndex('taskId', 'taskId');
    },
  });
  return dbPromise;
}

/** This device's client id: random, made once, kept in IndexedDB. */
export async function clientId(): Promise<string> {
  const db = await openStore();
  const existing = await db.get('meta', 'clientId');
  if (typeof existing === 'string') return existing;
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const id = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  await db.put('meta', id, 'clientId');
  return id;
}

export async function countExamples(taskId: string): Promise<number> {
  const db = await openStore();
  return db.countFromIndex('examples', 'taskId', taskId);
}

export async function loadExamples(taskId: string): Promise<StoredExample[]> {
  const db = await openStore();
  return db.getAllFromIndex('examples', 'taskId', taskId);
}

/** Add examples in one transaction. */
export async function addExamples(examples: readonly StoredExample[]): Promise<void> {
  const db = await openStore();
  const tx = db.transaction('examples', 'readwrite');
  await Promise.all([...examples.map((e) => tx.store.add(e)), tx.done]);
}

/** Remove every example of a task from this device. */
export async function clearExamples(taskId: string): Promise<void> {
  const db = await openStore();
  const tx = db.transaction('examples', 'readwrite');
  let cursor = await tx.store.index('taskId').openCursor(taskId);
  while (cursor) {
    await cursor.delete();
    cursor = await cursor.continue();
  }
  await tx.done;
}
