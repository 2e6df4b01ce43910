import 'fake-indexeddb/auto';
import { isHeldOut } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { addTaskExamples, maxExamplesFor, storedSource, storedSplit } from './examples.ts';
import { openLegacyDatabase } from './legacy-database.ts';
import * as storage from './storage.ts';

/** A browser as a visitor left it with database version 3: client id, two digits, c_i, a residual, history. */
function openVersion3(): Promise<void> {
  return openLegacyDatabase(3, (tx) => {
    tx.objectStore('meta').put('0123456789abcdef0123456789abcdef', 'clientId');
    tx.objectStore('meta').put([{ roundId: 4, at: 1, bytes: 10 }], 'history:mnist');
    const pixels = new Uint8Array(784).fill(7);
    tx.objectStore('examples').add({ taskId: 'mnist', x: pixels, y: 3, source: 'demo', addedAt: 1 });
    tx.objectStore('examples').add({ taskId: 'mnist', x: pixels, y: 9, source: 'drawn', addedAt: 2 });
    tx.objectStore('controls').put(
      { taskId: 'mnist', values: Float32Array.of(1, 2), roundId: 4, updatedAt: 1 },
      'mnist',
    );
    tx.objectStore('residuals').put(
      { taskId: 'mnist', values: Float32Array.of(3), roundId: 4, updatedAt: 1 },
      'mnist',
    );
  });
}

const digits = {
  input: { shape: [784], dtype: 'uint8' as const, scale: 1 / 255 },
  target: { kind: 'class' as const, numClasses: 10 },
};
const houses = {
  input: { shape: [2], dtype: 'float32' as const },
  target: { kind: 'regression' as const, shape: [1] },
};

/** The labels a split's side holds, sorted: which examples it picked. */
async function ys(source: Awaited<ReturnType<typeof storedSplit>>['train']): Promise<number[]> {
  const out: number[] = [];
  for await (const b of source.batches(16, true)) out.push(...b.y);
  return out.sort((a, b) => a - b);
}

describe('examples on the device', () => {
  it('keeps what a visitor held before the upgrade to version 4 and later, labels as int32', async () => {
    await openVersion3();
    expect(await storage.deviceIdentity()).toMatchObject({ clientId: '0123456789abcdef0123456789abcdef' });
    const kept = await storage.examplesByKey(await storage.exampleKeys('mnist'));
    expect(kept.map((e) => [e.source, Array.from(e.y), e.x.length])).toEqual([
      ['demo', [3], 784],
      ['drawn', [9], 784],
    ]);
    expect(kept[0]!.y).toBeInstanceOf(Int32Array);
    expect(await storage.loadControl('mnist', 2)).toEqual(Float32Array.of(1, 2));
    expect(await storage.loadResidual('mnist', 1)).toEqual(Float32Array.of(3));
    expect(await storage.loadHistory('mnist')).toHaveLength(1);
    expect(await storage.countBySource('mnist')).toEqual({ demo: 1, drawn: 1, entered: 0, host: 0 });
    // Training reads them like any other: the old digits are a task's examples.
    const batches = [];
    for await (const b of (await storedSource('mnist', digits)).batches(8, true)) batches.push(b);
    expect(batches).toHaveLength(1);
    expect(Array.from(batches[0]!.y).sort()).toEqual([3, 9]);
  });

  it('stores the good examples of a call, refuses the bad ones by code, and evicts the oldest past the quota', async () => {
    const result = await addTaskExamples(
      'houses',
      houses,
      [
        { x: [1, 2], y: [10] },
        { x: [1, Number.NaN], y: [10] },
        { x: [1, 2, 3], y: [10] },
        { x: Float32Array.of(3, 4), y: 20 },
      ],
      'host',
    );
    expect(result.accepted).toBe(2);
    expect(result.refused.map((r) => [r.index, r.code])).toEqual([
      [1, 'NON_FINITE'],
      [2, 'SHAPE_MISMATCH'],
    ]);
    expect(result.evicted).toBe(0);
    // 12 bytes an example (2 float32 features, 1 float32 label): a 36-byte quota holds 3.
    expect(maxExamplesFor(houses, 36)).toBe(3);
    const more = await addTaskExamples(
      'houses',
      houses,
      [
        { x: [5, 6], y: 30 },
        { x: [7, 8], y: 40 },
      ],
      'host',
      36,
    );
    expect(more).toEqual({ accepted: 2, refused: [], evicted: 1 });
    const left = await storage.examplesByKey(await storage.exampleKeys('houses'));
    expect(left.map((e) => e.y[0])).toEqual([20, 30, 40]);
    // Other tasks' examples are not touched by this task's quota.
    expect(await storage.countExamples('mnist')).toBe(2);
    // Batches come from IndexedDB in the task's dtypes.
    const source = await storedSource('houses', houses);
    expect(source.count).toBe(3);
    const seen: number[] = [];
    for await (const b of source.batches(2, false)) {
      expect(b.x).toBeInstanceOf(Float32Array);
      seen.push(...b.y);
    }
    expect(seen).toEqual([20, 30, 40]);
  });

  it('keeps a fixed share of the examples apart for evaluation, never in the training split', async () => {
    const rows = Array.from({ length: 200 }, (_, i) => ({ x: Float32Array.of(i, 0), y: Float32Array.of(i) }));
    await addTaskExamples('split', houses, rows, 'host', 1 << 30);
    const { train, heldOut } = await storedSplit('split', houses, 0.2);
    const trained = await ys(train);
    const held = await ys(heldOut);
    expect(trained.length + held.length).toBe(200);
    expect(held.length).toBeGreaterThan(20);
    expect(held.length).toBeLessThan(60);
    expect(held.filter((y) => trained.includes(y))).toEqual([]);
    // The same examples on the same side every time; none held out at fraction 0.
    expect(await ys((await storedSplit('split', houses, 0.2)).heldOut)).toEqual(held);
    expect((await storedSplit('split', houses, 0)).heldOut.count).toBe(0);
    // A device whose only example would be held out trains on it and holds nothing back.
    for (let tries = 0; tries < 50; tries++) {
      await storage.clearExamples('lone');
      await addTaskExamples('lone', houses, [rows[0]!], 'host', 1 << 30);
      if (isHeldOut((await storage.exampleKeys('lone'))[0]!, 0.5)) break;
    }
    expect(isHeldOut((await storage.exampleKeys('lone'))[0]!, 0.5)).toBe(true);
    const lone = await storedSplit('lone', houses, 0.5);
    expect([lone.train.count, lone.heldOut.count]).toEqual([1, 0]);
  });

  it('holds out the newest examples of a stream, with a gap before them trained on by neither side', async () => {
    const rows = Array.from({ length: 50 }, (_, i) => ({ x: Float32Array.of(i, 0), y: Float32Array.of(i) }));
    await addTaskExamples('stream', houses, rows, 'host', 1 << 30);
    const { train, heldOut } = await storedSplit('stream', houses, 0.2, { kind: 'newest', gap: 3 });
    expect(await ys(heldOut)).toEqual(Array.from({ length: 10 }, (_, i) => 40 + i));
    expect(await ys(train)).toEqual(Array.from({ length: 37 }, (_, i) => i));
  });
});
