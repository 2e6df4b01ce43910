import type { TaskSpec } from '@pollen/fl-core';
import { decodeExampleSet, type ExampleSet } from '@pollen/ml';
import { builtinKey } from '../data/builtin.ts';
import type { SplitTask } from '../data/text-split.ts';
import type { Store } from '../store/types.ts';
import { heldOutFor } from './held-out.ts';

/** The key of MNIST's test split: the evaluator thread loads it itself rather than receive it. */
export const BUILTIN_MNIST_KEY = 'builtin:mnist';

/** Whether a held-out key names built-in data (data/builtin.ts), which the evaluator thread loads itself. */
export function isBuiltinKey(key: string): boolean {
  return key.startsWith('builtin:');
}

/**
 * The held-out examples a task's versions are evaluated on, and the key they are cached by
 * (in this process and in the evaluator thread): a new upload has a new key.
 */
export interface HeldOut {
  readonly key: string;
  readonly examples: () => ExampleSet;
}

/** Where a task's held-out examples come from; null when it has none. */
export type HeldOutLookup = (spec: TaskSpec) => Promise<HeldOut | null>;

/** The test split of a task's built-in data (MNIST, Brown, SpamAssassin), nothing otherwise. */
export function builtinHeldOut(spec: SplitTask): HeldOut | null {
  const key = builtinKey(spec);
  if (key === null) return null;
  return { key, examples: () => heldOutFor(spec)! };
}

/** Decoded uploads kept at most (bytes of examples), the least recently used dropped first. */
const MAX_CACHED_BYTES = 256 * 1024 * 1024;

/**
 * Held-out examples from the store: a task's uploaded set (PUT /api/tasks/:id/held-out) when
 * it has one, else its built-in data's test split, else none. Decoded sets are cached by the
 * upload's SHA-256; each lookup reads only the digest, so an upload through another node of a
 * cluster is seen at that node's next evaluation, and `invalidate` drops a replaced set at once.
 */
export class HeldOutSource {
  private readonly cache = new Map<string, { readonly digest: string; readonly set: ExampleSet }>();

  constructor(private readonly store: Pick<Store, 'getHeldOutInfo' | 'getHeldOut'>) {}

  readonly lookup: HeldOutLookup = async (spec) => {
    const info = await this.store.getHeldOutInfo(spec.id);
    if (!info) {
      this.cache.delete(spec.id);
      return builtinHeldOut(spec);
    }
    let cached = this.cache.get(spec.id);
    if (cached?.digest !== info.digest) {
      const stored = await this.store.getHeldOut(spec.id);
      // Deleted between the two reads: as if it had never been uploaded.
      if (!stored) return builtinHeldOut(spec);
      cached = { digest: stored.digest, set: decodeExampleSet(spec, stored.data) };
    }
    // Most recently used last.
    this.cache.delete(spec.id);
    this.cache.set(spec.id, cached);
    this.trim();
    const { set } = cached;
    return { key: `${spec.id}:${cached.digest}`, examples: () => set };
  };

  /** Forget a task's cached set (its upload was replaced or deleted). */
  invalidate(taskId: string): void {
    this.cache.delete(taskId);
  }

  private trim(): void {
    let bytes = 0;
    for (const { set } of this.cache.values()) bytes += set.x.byteLength + set.y.byteLength;
    for (const [taskId, { set }] of this.cache) {
      if (bytes <= MAX_CACHED_BYTES || this.cache.size === 1) break;
      bytes -= set.x.byteLength + set.y.byteLength;
      this.cache.delete(taskId);
    }
  }
}
