import { describe, expect, it } from 'vitest';
import { checkCpuShare, effectiveCpuShare } from './cpu-share.ts';

describe('CPU share', () => {
  it('takes a number in (0, 1] and refuses anything else by name', () => {
    expect(checkCpuShare(0.25)).toBe(0.25);
    expect(checkCpuShare(1)).toBe(1);
    for (const bad of [0, -0.5, 1.01, Number.NaN, Number.POSITIVE_INFINITY, '0.5', null]) {
      expect(() => checkCpuShare(bad)).toThrow(/"cpuShare" expected a number in \(0, 1\]/);
    }
  });

  it("never goes above the task's cap: a visitor can only lower it", () => {
    expect(effectiveCpuShare(1, 0.5)).toBe(0.5);
    expect(effectiveCpuShare(0.2, 0.5)).toBe(0.2);
  });
});
