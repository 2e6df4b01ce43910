import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limit.ts';

describe('rate limiter', () => {
  it('allows a burst, refuses past it, and refills with time', () => {
    let now = 0;
    const limiter = new RateLimiter(10, 3, () => now);
    for (let i = 0; i < 3; i++) limiter.take('a');
    expect(() => limiter.take('a')).toThrow(/RATE|slow down/);
    limiter.take('b');
    now += 100; // one token back at 10 per second
    limiter.take('a');
    expect(() => limiter.take('a')).toThrow();
    limiter.forget('a');
    limiter.take('a');
  });
});
