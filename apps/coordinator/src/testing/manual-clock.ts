import type { Clock } from '../clock.ts';

/**
 * A clock that stands still until a test moves it: `advance(ms)` fires the timers that fall
 * due, in order, each seeing `now()` at its own due time. It starts at the real time, so the
 * epoch deadlines it stamps on messages look like real ones.
 */
export class ManualClock implements Clock {
  private time = Date.now();
  private seq = 0;
  private readonly timers = new Map<number, { readonly at: number; readonly fn: () => void }>();

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): () => void {
    const id = ++this.seq;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn });
    return () => this.timers.delete(id);
  }

  /** Move time forward by `ms`, firing every timer due by then (including ones they set). */
  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) {
        if (entry[1].at <= until && (!next || entry[1].at < next[1].at)) next = entry;
      }
      if (!next) break;
      this.timers.delete(next[0]);
      this.time = Math.max(this.time, next[1].at);
      next[1].fn();
    }
    this.time = until;
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.timers.size;
  }
}
