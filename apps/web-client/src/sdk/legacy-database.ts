import { closeStore } from './storage.ts';

// For tests of the contributor database's upgrades (storage.ts): a browser as a visitor left it
// at an earlier version. Its stores are written out version by version as those pages made them.

/** Start from no database (test files may share one IndexedDB); also what they leave behind. */
export async function deleteDatabase(): Promise<void> {
  await closeStore();
  await new Promise((resolve, reject) => {
    const del = indexedDB.deleteDatabase('pollen');
    del.onsuccess = resolve;
    del.onerror = () => reject(del.error);
  });
}

/**
 * A fresh database at `version` (1 to 6) with the stores that version had, and the records
 * `fill` puts in them, in the same upgrade transaction.
 */
export async function openLegacyDatabase(version: number, fill: (tx: IDBTransaction) => void): Promise<void> {
  await deleteDatabase();
  return new Promise((resolve, reject) => {
    const req = indexedDB.open('pollen', version);
    req.onupgradeneeded = () => {
      const db = req.result;
      db.createObjectStore('meta');
      db.createObjectStore('examples', { autoIncrement: true }).createIndex('taskId', 'taskId');
      if (version >= 2) db.createObjectStore('controls');
      if (version >= 3) db.createObjectStore('residuals');
      if (version >= 5)
        db.createObjectStore('entries', { autoIncrement: true }).createIndex('taskId', 'taskId');
      if (version >= 6)
        db.createObjectStore('bases', { keyPath: 'checksum' }).createIndex('taskId', 'taskId');
      fill(req.transaction!);
    };
    req.onsuccess = () => {
      req.result.close();
      resolve();
    };
    req.onerror = () => reject(req.error);
  });
}
