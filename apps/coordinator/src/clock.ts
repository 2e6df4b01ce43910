/**
 * Time as a dependency: the coordinator's waits (a round's deadline, SecAgg+'s stage timers, a
 * broken connection's reconnect grace) and their timestamps come from a Clock, so tests move
 * time forward instead of sleeping (testing/manual-clock.ts).
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Call `fn` once, `ms` from now; the returned function cancels it. Never keeps the process alive. */
  setTimeout(fn: () => void, ms: number): () => void;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, Math.max(0, ms));
    timer.unref?.();
    return () => clearTimeout(timer);
  },
};
