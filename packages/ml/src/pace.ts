/**
 * Where local training's time comes from: the time budget ends training after `timeBudgetMs`
 * and the CPU share pauses between mini-batches. Injected so tests and simulations run on a
 * clock of their own instead of waiting (a simulated slow device is one whose clock advances
 * ten times as much per step).
 */
export interface TrainClock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Resolve after `ms` milliseconds of this clock. */
  sleep(ms: number): Promise<void>;
}

/** The real clock: performance.now and setTimeout (in a browser worker and in Node). */
export const realClock: TrainClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Check a CPU share: a finite number in (0, 1]. */
export function expectCpuShare(share: number): number {
  if (!Number.isFinite(share) || share <= 0 || share > 1) {
    throw new Error(`"cpuShare" expected a number in (0, 1], got ${share}`);
  }
  return share;
}

/**
 * Training in slices with pauses, so training takes at most `share` of the time: after each
 * slice of work that took w ms, pause w * (1 - share) / share ms. The phone stays cool and
 * the page responsive; a share of 1 never pauses.
 */
export class Pacer {
  private readonly share: number;
  private readonly clock: TrainClock;
  private sliceStart: number;
  private busyMs = 0;
  private pausedMs = 0;

  constructor(share: number, clock: TrainClock) {
    this.share = expectCpuShare(share);
    this.clock = clock;
    this.sliceStart = clock.now();
  }

  /** Call after each slice of work (a mini-batch): pauses as the share says. */
  async rest(): Promise<void> {
    const now = this.clock.now();
    const worked = Math.max(0, now - this.sliceStart);
    this.busyMs += worked;
    if (this.share < 1 && worked > 0) {
      const pause = (worked * (1 - this.share)) / this.share;
      await this.clock.sleep(pause);
      this.pausedMs += pause;
    }
    this.sliceStart = this.clock.now();
  }

  /** Milliseconds spent working and pausing so far. */
  get totals(): { readonly busyMs: number; readonly pausedMs: number } {
    return { busyMs: this.busyMs, pausedMs: this.pausedMs };
  }
}
