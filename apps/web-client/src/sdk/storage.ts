import type { MetricValues } from '@pollen/fl-core';
import type { ExampleValues } from '@pollen/ml';
import { type DBSchema, type IDBPDatabase, openDB } from 'idb';

/**
 * Where an example came from: the task's demo shard, the contributor page's drawing canvas, an
 * entry typed or pasted on the contributor page (entries.ts), the host page.
 */
export type ExampleSource = 'demo' | 'drawn' | 'entered' | 'host';

/** One labelled example kept on this device, in the task's dtypes (checked when added). */
export interface StoredExample {
  readonly taskId: string;
  /** The features, row-major, in the task's input dtype. */
  readonly x: ExampleValues;
  /** The label, in the task's label dtype (one class id, flags, values or next tokens). */
  readonly y: ExampleValues;
  readonly source: ExampleSource;
  readonly addedAt: number;
  /** The entry (typed text, a labelled message) it was made from, which deletes it with itself. */
  readonly entry?: number;
}

/** Something the visitor entered on the contributor page, as entered (entries.ts). */
export interface StoredEntry {
  readonly taskId: string;
  /** The text typed or pasted. */
  readonly text: string;
  /** The class id the visitor gave it (text-label), or null (next-char text). */
  readonly label: number | null;
  readonly addedAt: number;
}

/** SCAFFOLD's client control variate c_i for one task, kept across rounds and reloads. */
export interface StoredControl {
  readonly taskId: string;
  readonly values: Float32Array;
  /** The round whose commit made it current. */
  readonly roundId: number;
  readonly updatedAt: number;
}

/**
 * Error feedback's residual for one task: what this device's compressed uploads left out so
 * far, added to its next update (Stich et al. 2018; Lin et al. 2018).
 */
export interface StoredResidual {
  readonly taskId: string;
  readonly values: Float32Array;
  /** The round whose accepted upload left it. */
  readonly roundId: number;
  readonly updatedAt: number;
}

/**
 * A fine-tuning task's frozen base (docs/design.md, "Fine-tuning"), kept by its SHA-256: it
 * never changes during the task, so it is downloaded once, not every round.
 */
export interface StoredBase {
  readonly checksum: string;
  readonly taskId: string;
  /** The dense f32 frame the coordinator served. */
  readonly frame: Uint8Array;
  readonly savedAt: number;
}

/**
 * The last broadcast model of a task (docs/design.md, "Compressed downloads"): the coordinator
 * sends a device that holds it the deltas since instead of the whole model.
 */
export interface StoredModel {
  readonly taskId: string;
  readonly version: number;
  /** SHA-256 of `weights`' float32 bytes, lower-case hex. */
  readonly checksum: string;
  readonly weights: Float32Array;
  readonly savedAt: number;
}

interface PollenDb extends DBSchema {
  meta: { key: string; value: unknown };
  examples: { key: number; value: StoredExample; indexes: { taskId: string } };
  /** Since version 2, keyed by task id. */
  controls: { key: string; value: StoredControl };
  /** Since version 3, keyed by task id. */
  residuals: { key: string; value: StoredResidual };
  /** Since version 5: what the visitor entered, by auto-increment key. */
  entries: { key: number; value: StoredEntry; indexes: { taskId: string } };
  /** Since version 6: fine-tuning tasks' frozen bases, keyed by checksum. */
  bases: { key: string; value: StoredBase; indexes: { taskId: string } };
  /** Since version 7: each task's last broadcast model, keyed by task id. */
  models: { key: string; value: StoredModel };
}

const DB_NAME = 'pollen';
/**
 * 1: meta and examples. 2: SCAFFOLD control variates. 3: error-feedback residuals.
 * 4: an example's label is a typed array (it was a number: MNIST's class id).
 * 5: entries (text typed or pasted on the contributor page), the examples made from them.
 * 6: fine-tuning tasks' frozen bases, by checksum.
 * 7: each task's last broadcast model, for compressed downloads.
 */
export const DB_VERSION = 7;

let dbPromise: Promise<IDBPDatabase<PollenDb>> | undefined;

/** The device's Pollen database (shared by the page and the training worker). */
export function openStore(): Promise<IDBPDatabase<PollenDb>> {
  dbPromise ??= openDB<PollenDb>(DB_NAME, DB_VERSION, {
    // Each step takes a database from one version to the next, so a device that kept version 1
    // (its client id and examples) keeps them and only gains what is new.
    async upgrade(db, oldVersion, _newVersion, tx) {
      if (oldVersion < 1) {
        db.createObjectStore('meta');
        db.createObjectStore('examples', { autoIncrement: true }).createIndex('taskId', 'taskId');
      }
      if (oldVersion < 2) db.createObjectStore('controls');
      if (oldVersion < 3) db.createObjectStore('residuals');
      if (oldVersion < 5)
        db.createObjectStore('entries', { autoIncrement: true }).createIndex('taskId', 'taskId');
      if (oldVersion < 6)
        db.createObjectStore('bases', { keyPath: 'checksum' }).createIndex('taskId', 'taskId');
      if (oldVersion < 7) db.createObjectStore('models', { keyPath: 'taskId' });
      if (oldVersion >= 1 && oldVersion < 4) {
        // Examples kept before version 4 (MNIST digits) had a number label: keep them, as int32.
        let cursor = await tx.objectStore('examples').openCursor();
        while (cursor) {
          const y = cursor.value.y as unknown;
          if (typeof y === 'number') await cursor.update({ ...cursor.value, y: Int32Array.of(y) });
          cursor = await cursor.continue();
        }
      }
    },
    // A newer page elsewhere wants to upgrade: step aside rather than block it; reopen on next use.
    blocking(_current, _blocked, event) {
      (event.target as IDBDatabase).close();
      dbPromise = undefined;
    },
  });
  return dbPromise;
}

/** Close the database and forget the connection; the next use opens it again. */
export async function closeStore(): Promise<void> {
  const open = dbPromise;
  dbPromise = undefined;
  (await open)?.close();
}

/** base64url of random bytes (RFC 4648 section 5), without padding. */
function randomBase64url(bytes: number): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...raw))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
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

/**
 * This device's identity: its client id and the secret that proves it (32 random bytes,
 * base64url), both kept in IndexedDB. The coordinator binds the id to the secret's hash the
 * first time it sees it, so another device naming this id is refused. A device that kept an id
 * from before secrets existed makes its secret now; its id is bound on its next connection.
 */
export async function deviceIdentity(): Promise<{ clientId: string; secret: string }> {
  const id = await clientId();
  const db = await openStore();
  const tx = db.transaction('meta', 'readwrite');
  const existing = await tx.store.get('clientSecret');
  let secret: string;
  if (typeof existing === 'string') secret = existing;
  else {
    secret = randomBase64url(32);
    await tx.store.put(secret, 'clientSecret');
  }
  await tx.done;
  return { clientId: id, secret };
}

export async function countExamples(taskId: string): Promise<number> {
  const db = await openStore();
  return db.countFromIndex('examples', 'taskId', taskId);
}

/** The keys of a task's examples, oldest first (keys only grow, and index entries sort by key). */
export async function exampleKeys(taskId: string): Promise<number[]> {
  const db = await openStore();
  return db.getAllKeysFromIndex('examples', 'taskId', taskId);
}

/** Examples by key, in the keys' order, in one transaction; a key deleted meanwhile is skipped. */
export async function examplesByKey(keys: readonly number[]): Promise<StoredExample[]> {
  const db = await openStore();
  const tx = db.transaction('examples');
  const found = await Promise.all(keys.map((k) => tx.store.get(k)));
  await tx.done;
  return found.filter((e): e is StoredExample => e !== undefined);
}

/**
 * Add examples in one transaction, first deleting the task's oldest ones beyond `maxExamples`
 * (oldest-first eviction keeps the newest data within the task's quota). Returns how many
 * were evicted.
 */
export async function addExamples(
  taskId: string,
  examples: readonly StoredExample[],
  maxExamples = Number.POSITIVE_INFINITY,
): Promise<number> {
  const db = await openStore();
  const tx = db.transaction('examples', 'readwrite');
  const index = tx.store.index('taskId');
  const fresh = examples.slice(Math.max(0, examples.length - maxExamples));
  const held = await index.count(taskId);
  let evict = Math.max(0, held + fresh.length - maxExamples);
  const evicted = evict;
  let cursor = evict > 0 ? await index.openKeyCursor(taskId) : null;
  while (cursor && evict > 0) {
    await tx.store.delete(cursor.primaryKey);
    evict--;
    cursor = await cursor.continue();
  }
  await Promise.all([...fresh.map((e) => tx.store.add(e)), tx.done]);
  return evicted + (examples.length - fresh.length);
}

/** Delete every record of a task from a store indexed by task, in one transaction. */
async function deleteTaskRecords(store: 'examples' | 'entries' | 'bases', taskId: string): Promise<void> {
  const db = await openStore();
  const tx = db.transaction(store, 'readwrite');
  let cursor = await tx.store.index('taskId').openCursor(taskId);
  while (cursor) {
    await cursor.delete();
    cursor = await cursor.continue();
  }
  await tx.done;
}

/** Remove every example of a task from this device. */
export async function clearExamples(taskId: string): Promise<void> {
  await deleteTaskRecords('examples', taskId);
}

/** This device's SCAFFOLD c_i for a task, or null when it has none of that dimension yet. */
export async function loadControl(taskId: string, dimension: number): Promise<Float32Array | null> {
  const db = await openStore();
  const stored = await db.get('controls', taskId);
  // A different dimension means a different model: that c_i no longer applies.
  return stored && stored.values.length === dimension ? stored.values : null;
}

/** Keep c_i+ once the round that produced it committed. */
export async function saveControl(taskId: string, values: Float32Array, roundId: number): Promise<void> {
  const db = await openStore();
  await db.put('controls', { taskId, values, roundId, updatedAt: Date.now() }, taskId);
}

/** Forget a task's c_i (with its examples, when the visitor deletes their data). */
export async function clearControl(taskId: string): Promise<void> {
  const db = await openStore();
  await db.delete('controls', taskId);
}

/** This device's error-feedback residual for a task, or null when it has none of that dimension. */
export async function loadResidual(taskId: string, dimension: number): Promise<Float32Array | null> {
  const db = await openStore();
  const stored = await db.get('residuals', taskId);
  // Another dimension means another model: what it left out no longer applies.
  return stored && stored.values.length === dimension ? stored.values : null;
}

/** Keep the residual an accepted upload left (null: forget it, the round kept nothing). */
export async function saveResidual(
  taskId: string,
  values: Float32Array | null,
  roundId: number,
): Promise<void> {
  const db = await openStore();
  if (values === null) await db.delete('residuals', taskId);
  else await db.put('residuals', { taskId, values, roundId, updatedAt: Date.now() }, taskId);
}

/** Forget a task's residual (with its examples: it was learnt from them). */
export async function clearResidual(taskId: string): Promise<void> {
  const db = await openStore();
  await db.delete('residuals', taskId);
}

/** Examples of a task on this device, by where they came from. */
export async function countBySource(taskId: string): Promise<Record<StoredExample['source'], number>> {
  const db = await openStore();
  const counts = { demo: 0, drawn: 0, entered: 0, host: 0 };
  let cursor = await db.transaction('examples').store.index('taskId').openCursor(taskId);
  while (cursor) {
    counts[cursor.value.source]++;
    cursor = await cursor.continue();
  }
  return counts;
}

/** A round this device took part in, as the contributor page lists it. */
export interface HistoryEntry {
  readonly roundId: number;
  /** When the update was accepted (epoch milliseconds). */
  readonly at: number;
  readonly bytes: number;
  readonly numExamples: number;
  /** `loss` and the task's metrics on this device's examples after local training. */
  readonly metrics: MetricValues;
  readonly trainMs: number;
  readonly epsilon: number | null;
  /** How the round ended, once this device heard. */
  readonly outcome: 'committed' | 'abandoned' | null;
}

/** Rounds kept in a task's history: enough to scroll through, bounded so it cannot grow forever. */
const HISTORY_LIMIT = 200;
const historyKey = (taskId: string): string => `history:${taskId}`;

/** The rounds this device joined for a task, oldest first. */
export async function loadHistory(taskId: string): Promise<HistoryEntry[]> {
  const db = await openStore();
  const stored = await db.get('meta', historyKey(taskId));
  return Array.isArray(stored) ? (stored as StoredHistoryEntry[]).map(namedMetrics) : [];
}

/** An entry as stored: before named metrics, an entry kept `loss` and `accuracy` fields instead. */
type StoredHistoryEntry = HistoryEntry | (Omit<HistoryEntry, 'metrics'> & { loss: number; accuracy: number });

function namedMetrics(entry: StoredHistoryEntry): HistoryEntry {
  if ('metrics' in entry) return entry;
  const { loss, accuracy, ...rest } = entry;
  return { ...rest, metrics: { loss, accuracy } };
}

/** Add a round, or change the one with the same id (its outcome arrives later), in one transaction. */
export async function recordHistory(
  taskId: string,
  roundId: number,
  change: (previous: HistoryEntry | undefined) => HistoryEntry | undefined,
): Promise<void> {
  const db = await openStore();
  const tx = db.transaction('meta', 'readwrite');
  const stored = await tx.store.get(historyKey(taskId));
  const entries = Array.isArray(stored) ? (stored as StoredHistoryEntry[]).map(namedMetrics) : [];
  const i = entries.findIndex((e) => e.roundId === roundId);
  const next = change(i >= 0 ? entries[i] : undefined);
  if (next && i >= 0) entries[i] = next;
  else if (next) entries.push(next);
  await tx.store.put(entries.slice(-HISTORY_LIMIT), historyKey(taskId));
  await tx.done;
}

/** Forget the rounds this device joined for a task. */
export async function clearHistory(taskId: string): Promise<void> {
  const db = await openStore();
  await db.delete('meta', historyKey(taskId));
}

/** Keep an entry; returns its id. */
export async function addEntry(entry: StoredEntry): Promise<number> {
  const db = await openStore();
  return db.add('entries', entry);
}

/** A task's entries with their ids, oldest first. */
export async function listEntries(taskId: string): Promise<{ id: number; entry: StoredEntry }[]> {
  const db = await openStore();
  const out: { id: number; entry: StoredEntry }[] = [];
  let cursor = await db.transaction('entries').store.index('taskId').openCursor(taskId);
  while (cursor) {
    out.push({ id: cursor.primaryKey, entry: cursor.value });
    cursor = await cursor.continue();
  }
  return out;
}

/**
 * Delete an entry of a task and the examples made from it, in one transaction; false when the
 * task has no such entry.
 */
export async function deleteEntry(taskId: string, id: number): Promise<boolean> {
  const db = await openStore();
  const tx = db.transaction(['entries', 'examples'], 'readwrite');
  const entry = await tx.objectStore('entries').get(id);
  if (!entry || entry.taskId !== taskId) {
    await tx.done;
    return false;
  }
  await tx.objectStore('entries').delete(id);
  let cursor = await tx.objectStore('examples').index('taskId').openCursor(taskId);
  while (cursor) {
    if (cursor.value.entry === id) await cursor.delete();
    cursor = await cursor.continue();
  }
  await tx.done;
  return true;
}

/** Forget every entry of a task (with its examples, when the visitor deletes their data). */
export async function clearEntries(taskId: string): Promise<void> {
  await deleteTaskRecords('entries', taskId);
}

/**
 * A task's frozen base kept on this device: the one with `checksum`, or with null the one last
 * kept for the task; undefined when there is none.
 */
export async function loadBase(taskId: string, checksum: string | null): Promise<StoredBase | undefined> {
  const db = await openStore();
  if (checksum !== null) {
    const stored = await db.get('bases', checksum);
    return stored?.taskId === taskId ? stored : undefined;
  }
  const all = await db.getAllFromIndex('bases', 'taskId', taskId);
  return all.sort((a, b) => b.savedAt - a.savedAt)[0];
}

/** Keep a task's frozen base, in place of any other base of the task (one transaction). */
export async function saveBase(taskId: string, checksum: string, frame: Uint8Array): Promise<void> {
  const db = await openStore();
  const tx = db.transaction('bases', 'readwrite');
  let cursor = await tx.store.index('taskId').openCursor(taskId);
  while (cursor) {
    if (cursor.value.checksum !== checksum) await cursor.delete();
    cursor = await cursor.continue();
  }
  await tx.store.put({ checksum, taskId, frame, savedAt: Date.now() });
  await tx.done;
}

/** Forget a task's frozen bases. */
export async function clearBases(taskId: string): Promise<void> {
  await deleteTaskRecords('bases', taskId);
}

/** The task's last broadcast model kept on this device, or null. */
export async function loadModel(taskId: string): Promise<StoredModel | null> {
  const db = await openStore();
  return (await db.get('models', taskId)) ?? null;
}

/** Keep a task's broadcast model in place of the one before. */
export async function saveModel(
  taskId: string,
  model: { readonly version: number; readonly checksum: string; readonly weights: Float32Array },
): Promise<void> {
  const db = await openStore();
  const { version, checksum, weights } = model;
  await db.put('models', { taskId, version, checksum, weights, savedAt: Date.now() });
}

/** Forget a task's broadcast model (it did not check out, or the visitor deletes their data). */
export async function clearModel(taskId: string): Promise<void> {
  const db = await openStore();
  await db.delete('models', taskId);
}
