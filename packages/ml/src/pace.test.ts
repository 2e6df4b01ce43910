import { describe, expect, it } from 'vitest';
import { Pacer } from './pace.ts';

function fakeClock() {
  const clock = {
    t: 0,
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.t += ms;
    },
  };
  return clock;
}

describe('Pacer', () => {
  it('keeps the busy share at the configured share', async () => {
    const clock = fakeClock();
    const pacer = new Pacer(0.2, clock);
    for (const work of [5, 10, 20]) {
      clock.t += work;
      await pacer.rest();
    }
    expect(pacer.totals.busyMs).toBe(35);
    expect(pacer.totals.pausedMs).toBeCloseTo(140, 9);
    expect(pacer.totals.busyMs / clock.t).toBeCloseTo(0.2, 9);
  });

  it('never pauses at a share of 1, and refuses a share outside (0, 1]', async () => {
    const clock = fakeClock();
    const pacer = new Pacer(1, clock);
    clock.t += 50;
    await pacer.rest();
    expect(clock.t).toBe(50);
    expect(() => new Pacer(0, clock)).toThrow(/cpuShare/);
    expect(() => new Pacer(1.5, clock)).toThrow(/cpuShare/);
    expect(() => new Pacer(Number.NaN, clock)).toThrow(/cpuShare/);
  });
});
