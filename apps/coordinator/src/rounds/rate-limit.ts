import { PollenError } from '@pollen/fl-core';

/**
 * A token bucket per key: `burst` messages at once, refilled at `perSecond`. Contributor
 * sockets send a handful of messages per round, so a generous bucket never bothers an
 * honest client and stops a flood before any decoding work is done.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Take one token for `key`, or throw RATE_LIMITED. */
  take(key: string): void {
    const t = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: t };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((t - bucket.at) / 1000) * this.perSecond);
    bucket.at = t;
    this.buckets.set(key, bucket);
    if (bucket.tokens < 1) {
      throw new PollenError('RATE_LIMITED', `more than ${this.perSecond} messages per second; slow down`);
    }
    bucket.tokens -= 1;
  }

  forget(key: string): void {
    this.buckets.delete(key);
  }
}
