import 'fake-indexeddb/auto';
import type { NextCharPresentation, Presentation, TextLabelPresentation } from '@pollen/fl-core';
import { IDBFactory } from 'fake-indexeddb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EntryError, type EntryTask, MAX_ENTRY_CHARS, TaskEntries } from './entries.ts';
import { entryExamples, labelFeatures, nextCharContext } from './entry-examples.ts';
import * as storage from './storage.ts';

const nextChar: NextCharPresentation = { kind: 'next-char', alphabet: 'abc ', context: 3 };
const spam: TextLabelPresentation = {
  kind: 'text-label',
  labels: ['ham', 'spam'],
  features: { kind: 'hashed-bow', dims: 16 },
};
const typing: EntryTask = {
  input: { shape: [3], dtype: 'int32' },
  target: { kind: 'class', numClasses: 5 },
  presentation: nextChar,
};
const labelling: EntryTask = {
  input: { shape: [16], dtype: 'float32' },
  target: { kind: 'class', numClasses: 2 },
  presentation: spam,
};

const code = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (e: unknown) => (e instanceof EntryError ? e.code : String(e)),
  );

describe('what an entry teaches', () => {
  it('makes one next-character example per known character, its context 0-padded, other characters 0', () => {
    const examples = entryExamples(nextChar, { text: 'Ab!c', label: null });
    expect(examples.map((e) => [Array.from(e.x), e.y])).toEqual([
      [[0, 0, 0], 1],
      [[0, 0, 1], 2],
      [[1, 2, 0], 3],
    ]);
    expect(Array.from(nextCharContext(nextChar, 'cab a'))).toEqual([2, 4, 1]);
    expect(Array.from(nextCharContext({ ...nextChar, lowercase: false }, 'A'))).toEqual([0, 0, 0]);
  });

  it('makes a labelled message one example of its hashed bag of words', () => {
    const [example] = entryExamples(spam, { text: 'Win win CASH', label: 1 });
    const x = example!.x as Float32Array;
    expect(example!.y).toBe(1);
    expect(x).toHaveLength(16);
    // Two tokens "win" and one "cash", log(1 + count) each (the default weighting).
    expect([...x].filter((v) => v > 0).sort()).toEqual([
      Math.fround(Math.log1p(1)),
      Math.fround(Math.log1p(2)),
    ]);
    expect(labelFeatures(spam, 'win WIN')).toEqual(labelFeatures(spam, 'win, win.'));
  });
});

describe('entries on the device', () => {
  // A database of this file's own: unit files share one process (examples.test.ts upgrades its own).
  const shared = globalThis.indexedDB;
  beforeAll(async () => {
    await storage.closeStore();
    globalThis.indexedDB = new IDBFactory();
  });
  afterAll(async () => {
    await storage.closeStore();
    globalThis.indexedDB = shared;
  });

  it('keeps an entry with its examples, lists it, and deletes both', async () => {
    const entries = new TaskEntries('typing', typing);
    const added = await entries.add({ text: 'abc' });
    expect(added).toMatchObject({ text: 'abc', label: null, accepted: 3, refused: [] });
    await entries.add({ text: 'cab' });
    expect((await entries.list()).map((e) => e.text)).toEqual(['abc', 'cab']);
    expect(await storage.countBySource('typing')).toMatchObject({ entered: 6 });
    await entries.delete(added.id);
    expect((await entries.list()).map((e) => e.text)).toEqual(['cab']);
    expect(await storage.countExamples('typing')).toBe(3);
    expect(await code(entries.delete(added.id))).toBe('ENTRY_NOT_FOUND');
    // Another task's entries are not this one's to delete.
    const other = await new TaskEntries('other', typing).add({ text: 'a' });
    expect(await code(entries.delete(other.id))).toBe('ENTRY_NOT_FOUND');
    expect(await code(entries.delete('1'))).toBe('ENTRY_NOT_FOUND');
  });

  it('keeps a labelled message under its label, by name or by class id', async () => {
    const entries = new TaskEntries('spam', labelling);
    expect(await entries.add({ text: 'cheap pills', label: 'spam' })).toMatchObject({
      label: 'spam',
      accepted: 1,
    });
    expect(await entries.add({ text: 'see you at 5', label: 0 })).toMatchObject({ label: 'ham' });
    expect((await entries.list()).map((e) => e.label)).toEqual(['spam', 'ham']);
  });

  it('refuses a bad entry with a stable code, keeping nothing', async () => {
    const typed = new TaskEntries('refusals', typing);
    const labelled = new TaskEntries('refusals', labelling);
    const none: Presentation = { kind: 'none' };
    expect(await code(typed.add(null))).toBe('ENTRY_INVALID');
    expect(await code(typed.add({ text: '  ' }))).toBe('ENTRY_INVALID');
    expect(await code(typed.add({ text: 42 }))).toBe('ENTRY_INVALID');
    expect(await code(typed.add({ text: 'a'.repeat(MAX_ENTRY_CHARS + 1) }))).toBe('ENTRY_INVALID');
    expect(await code(typed.add({ text: 'abc', label: 'spam' }))).toBe('ENTRY_LABEL');
    expect(await code(labelled.add({ text: 'hello' }))).toBe('ENTRY_LABEL');
    expect(await code(labelled.add({ text: 'hello', label: 'eggs' }))).toBe('ENTRY_LABEL');
    expect(await code(labelled.add({ text: 'hello', label: 2 }))).toBe('ENTRY_LABEL');
    expect(
      await code(new TaskEntries('refusals', { ...typing, presentation: none }).add({ text: 'a' })),
    ).toBe('ENTRY_UNSUPPORTED');
    expect(await typed.list()).toEqual([]);
    expect(await storage.countExamples('refusals')).toBe(0);
  });
});
