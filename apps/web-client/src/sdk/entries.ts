import type { Presentation } from '@pollen/fl-core';
import type { ExampleTask } from '@pollen/ml';
import { entryExamples } from './entry-examples.ts';
import { type AddExamplesResult, addTaskExamples, DEFAULT_QUOTA_BYTES } from './examples.ts';
import * as storage from './storage.ts';

/** The longest text one entry may hold, in characters: a long message or a few paragraphs. */
export const MAX_ENTRY_CHARS = 20_000;

/**
 * Why an entry was refused, stable across releases:
 * - ENTRY_UNSUPPORTED: the task takes no typed entries (a drawing task, or the host's data);
 * - ENTRY_INVALID: not an object with a non-empty `text` string of at most MAX_ENTRY_CHARS;
 * - ENTRY_LABEL: a labelled task's entry without one of its labels, or a label given to a
 *   next-character task's text;
 * - ENTRY_NOT_FOUND: no entry of the task with that id on this device.
 */
export type EntryErrorCode = 'ENTRY_UNSUPPORTED' | 'ENTRY_INVALID' | 'ENTRY_LABEL' | 'ENTRY_NOT_FOUND';

export class EntryError extends Error {
  override readonly name = 'EntryError';
  constructor(
    readonly code: EntryErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** What a visitor enters: text, and for a labelled task its label (the name, or the class id). */
export interface EntryInput {
  readonly text: string;
  readonly label?: string | number;
}

/** An entry as listed: its id, what was entered, the label's name, and the examples it made. */
export interface Entry {
  readonly id: number;
  readonly text: string;
  readonly label: string | null;
  readonly addedAt: number;
}

/** The parts of a task entries need: its presentation, and what its examples are. */
export interface EntryTask extends ExampleTask {
  readonly presentation: Presentation;
}

/**
 * The visitor's own entries for one task (docs/sdk.md, "Entries"): text typed for a
 * next-character task, messages pasted and labelled for a text-label task. Each entry is kept
 * as entered in this browser's IndexedDB, next to the training examples made from it (by the
 * task's presentation, entry-examples.ts); deleting it deletes them. Nothing leaves the device.
 */
export class TaskEntries {
  constructor(
    private readonly taskId: string,
    private readonly task: EntryTask,
    private readonly quotaBytes = DEFAULT_QUOTA_BYTES,
  ) {}

  /** Check an entry, keep it and the examples it makes; refused with an EntryError and a code. */
  async add(input: unknown): Promise<Entry & AddExamplesResult> {
    const { text, label } = this.check(input);
    const addedAt = Date.now();
    const stored: storage.StoredEntry = { taskId: this.taskId, text, label, addedAt };
    const id = await storage.addEntry(stored);
    try {
      const examples = entryExamples(this.task.presentation, stored);
      const result = await addTaskExamples(this.taskId, this.task, examples, 'entered', this.quotaBytes, id);
      return { ...this.listed(id, stored), ...result };
    } catch (err) {
      await storage.deleteEntry(this.taskId, id);
      throw err;
    }
  }

  /** The task's entries on this device, oldest first. */
  async list(): Promise<Entry[]> {
    return (await storage.listEntries(this.taskId)).map(({ id, entry }) => this.listed(id, entry));
  }

  /** Delete an entry and the examples made from it. */
  async delete(id: unknown): Promise<void> {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
      throw new EntryError(
        'ENTRY_NOT_FOUND',
        `"id" expected an entry id (a positive integer), got ${String(id)}`,
      );
    }
    if (!(await storage.deleteEntry(this.taskId, id))) {
      throw new EntryError('ENTRY_NOT_FOUND', `no entry ${id} of task "${this.taskId}" on this device`);
    }
  }

  private listed(id: number, entry: storage.StoredEntry): Entry {
    const p = this.task.presentation;
    const label = entry.label === null || p.kind !== 'text-label' ? null : (p.labels[entry.label] ?? null);
    return { id, text: entry.text, label, addedAt: entry.addedAt };
  }

  private check(input: unknown): { text: string; label: number | null } {
    const p = this.task.presentation;
    if (p.kind !== 'next-char' && p.kind !== 'text-label') {
      throw new EntryError('ENTRY_UNSUPPORTED', `task "${this.taskId}" takes no typed entries (${p.kind})`);
    }
    const { text, label } = (input ?? {}) as { text?: unknown; label?: unknown };
    if (typeof input !== 'object' || typeof text !== 'string' || text.trim() === '') {
      throw new EntryError('ENTRY_INVALID', '"text" expected a non-empty string');
    }
    if (text.length > MAX_ENTRY_CHARS) {
      throw new EntryError(
        'ENTRY_INVALID',
        `"text" expected at most ${MAX_ENTRY_CHARS} characters, got ${text.length}`,
      );
    }
    if (p.kind === 'next-char') {
      if (label !== undefined) throw new EntryError('ENTRY_LABEL', 'a next-character entry takes no "label"');
      return { text, label: null };
    }
    const id = typeof label === 'string' ? p.labels.indexOf(label) : label;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= p.labels.length) {
      throw new EntryError(
        'ENTRY_LABEL',
        `"label" expected one of ${p.labels.map((l) => JSON.stringify(l)).join(', ')}, got ${JSON.stringify(label)}`,
      );
    }
    return { text, label: id };
  }
}
