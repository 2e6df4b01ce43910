/**
 * The Pollen client SDK: embed it in any page to let visitors contribute their device's
 * compute to a federated task. See docs/sdk.md.
 */

export { createClient, PollenClient } from './client.ts';
export type { ClientOptions } from './client-options.ts';
export type { InkImage } from './digit.ts';
export { inkFromRgba, toMnist } from './digit.ts';
export { CONDITION_TEXT, DeviceConditions } from './eligibility.ts';
export type { Entry, EntryErrorCode, EntryInput, EntryTask } from './entries.ts';
export { EntryError, MAX_ENTRY_CHARS, TaskEntries } from './entries.ts';
export { entryExamples, labelFeatures, nextCharContext } from './entry-examples.ts';
export type { ClientEvents, ClientStatus } from './events.ts';
export type { AddExamplesResult, ExampleInput } from './examples.ts';
export { DEFAULT_QUOTA_BYTES } from './examples.ts';
export type { ExampleSource, HistoryEntry, StoredExample } from './storage.ts';
export { TRAINER_LOCK } from './trainer-lock.ts';
