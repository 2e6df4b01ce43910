import type { Backend } from '@pollen/fl-core';
import { DEFAULT_QUOTA_BYTES } from './examples.ts';

/** What a page embedding the SDK passes to `createClient` (docs/sdk.md). */
export interface ClientOptions {
  /** The coordinator's origin, e.g. https://pollen.example.org; defaults to this page's. */
  readonly url?: string;
  /** The task to contribute to. */
  readonly task: string;
  /** Force a backend instead of the best available (webgpu, webgl, wasm, cpu). */
  readonly backend?: Backend;
  /** Load this device's demo shard of the task's dataset when it holds no examples. */
  readonly demoData?: boolean;
  /** Keep training while the tab is hidden. */
  readonly background?: boolean;
  /**
   * IndexedDB space the task's examples may take on this device (default 64 MiB); adding past
   * it deletes the oldest examples first.
   */
  readonly quotaBytes?: number;
  /**
   * A join token, for tasks that admit holders of one only (`admission.joinToken`): a short-lived
   * JWT the host site's backend signs for its signed-in user, with the task id as audience. A
   * function is called before every connection and reconnection, so a fresh token can be
   * fetched once the last one expired.
   */
  readonly joinToken?: string | (() => string | Promise<string>);
  /**
   * The share of time training may keep the CPU busy, in (0, 1] (default 1): training runs in
   * slices with pauses. The task's `training.cpuShare` caps it; a visitor can only go lower.
   */
  readonly cpuShare?: number;
}

/** The options with their defaults filled in. */
export type ResolvedOptions = Required<Omit<ClientOptions, 'backend' | 'joinToken' | 'cpuShare'>> & {
  readonly backend: Backend | null;
  readonly joinToken: ClientOptions['joinToken'] | null;
};

export function resolveOptions(options: ClientOptions): ResolvedOptions {
  return {
    url: options.url ?? globalThis.location?.origin ?? '',
    task: options.task,
    backend: options.backend ?? null,
    demoData: options.demoData ?? true,
    background: options.background ?? false,
    quotaBytes: options.quotaBytes ?? DEFAULT_QUOTA_BYTES,
    joinToken: options.joinToken ?? null,
  };
}
