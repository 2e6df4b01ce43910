import { describe, expect, it } from 'vitest';
import { type DeviceReadings, judgeEligibility, validateEligibility } from './eligibility.ts';

const device: DeviceReadings = {
  visible: true,
  background: false,
  battery: { charging: true, level: 0.8 },
  network: { metered: false, saveData: false },
  inputIdleMs: 60_000,
  idleCallbacks: true,
};

describe('judgeEligibility', () => {
  it('without conditions only visibility (or the background opt-in) counts', () => {
    expect(judgeEligibility(null, device)).toEqual({ eligible: true, blockedBy: [] });
    expect(judgeEligibility(null, { ...device, visible: false }).blockedBy).toEqual(['hidden']);
    expect(judgeEligibility(null, { ...device, visible: false, background: true }).eligible).toBe(true);
    expect(judgeEligibility(null, { ...device, battery: null, network: null }).eligible).toBe(true);
  });

  it('charging, battery level, unmetered and idle each hold the device back by name', () => {
    const all = validateEligibility({
      charging: true,
      minBatteryLevel: 0.5,
      unmetered: true,
      idleSeconds: 30,
    });
    expect(judgeEligibility(all, device).eligible).toBe(true);
    expect(judgeEligibility(all, { ...device, battery: { charging: false, level: 0.3 } }).blockedBy).toEqual([
      'not-charging',
      'battery-low',
    ]);
    expect(
      judgeEligibility(all, { ...device, network: { metered: true, saveData: false } }).blockedBy,
    ).toEqual(['metered']);
    expect(
      judgeEligibility(all, { ...device, network: { metered: false, saveData: true } }).blockedBy,
    ).toEqual(['metered']);
    expect(judgeEligibility(all, { ...device, inputIdleMs: 10_000 }).blockedBy).toEqual(['not-idle']);
    expect(judgeEligibility(all, { ...device, visible: false, background: true }).blockedBy).toEqual([
      'not-idle',
    ]);
  });

  it('a missing API follows the task policy, per condition', () => {
    const allow = validateEligibility({ charging: true, unmetered: true, idleSeconds: 5 });
    const deny = validateEligibility({
      charging: true,
      unmetered: true,
      idleSeconds: 5,
      whenUnsupported: { battery: 'deny', network: 'deny', idle: 'deny' },
    });
    const bare = { ...device, battery: null, network: null, idleCallbacks: false };
    expect(judgeEligibility(allow, bare)).toEqual({ eligible: true, blockedBy: [] });
    expect(judgeEligibility(deny, bare).blockedBy).toEqual([
      'no-battery-api',
      'no-network-api',
      'no-idle-api',
    ]);
    // A missing API the task's conditions do not use is no reason to hold back.
    expect(
      judgeEligibility(validateEligibility({ whenUnsupported: { battery: 'deny' } }), bare).eligible,
    ).toBe(true);
  });
});
