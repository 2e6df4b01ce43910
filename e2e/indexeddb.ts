/// <reference lib="dom" />
// These functions run in Chromium through page.evaluate, hence the DOM types.

/** The version of the contributor's database (the web client's sdk/storage.ts DB_VERSION). */
export const POLLEN_DB_VERSION = 7;

/** An example as the contributor's IndexedDB keeps it, without its pixels. */
export interface StoredExampleSummary {
  readonly y: number;
  readonly source: string;
  readonly pixels: number;
  readonly ink: number;
}

/** The examples of a task in the page's Pollen database (the SDK's store, read with the raw API). */
export function readExamples(taskId: string): Promise<StoredExampleSummary[]> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open('pollen');
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains('examples')) {
        db.close();
        resolve([]);
        return;
      }
      const all = db.transaction('examples').objectStore('examples').index('taskId').getAll(taskId);
      all.onerror = () => reject(all.error);
      all.onsuccess = () => {
        db.close();
        resolve(
          (all.result as { y: number | Int32Array; source: string; x: Uint8Array }[]).map((e) => ({
            // A label is a typed array since database version 4 (a number before).
            y: typeof e.y === 'number' ? e.y : e.y[0]!,
            source: e.source,
            pixels: e.x.length,
            ink: e.x.reduce((a, b) => a + b, 0),
          })),
        );
      };
    };
  });
}

/** The frozen bases a page keeps for a task (database version 6): each one's checksum and size. */
export function readBases(taskId: string): Promise<{ checksum: string; bytes: number }[]> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open('pollen');
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains('bases')) {
        db.close();
        resolve([]);
        return;
      }
      const all = db.transaction('bases').objectStore('bases').index('taskId').getAll(taskId);
      all.onerror = () => reject(all.error);
      all.onsuccess = () => {
        db.close();
        resolve(
          (all.result as { checksum: string; frame: Uint8Array }[]).map((b) => ({
            checksum: b.checksum,
            bytes: b.frame.byteLength,
          })),
        );
      };
    };
  });
}
