import { describe, expect, it } from 'vitest';
import { PollenError } from '../errors.ts';
import { epsilonFor } from './accountant.ts';
import { PrivacyLedger } from './ledger.ts';

const ORDERS_2_TO_32 = Array.from({ length: 31 }, (_, i) => i + 2);

describe('PrivacyLedger', () => {
  it('starts at epsilon 0', () => {
    const ledger = new PrivacyLedger({ delta: 1e-5 });
    expect(ledger.spent().epsilon).toBe(0);
    expect(ledger.steps).toBe(0);
    expect(ledger.entries).toEqual([]);
  });

  it('composes rounds with different q and z: epsilon 0.336 at order 23', () => {
    const ledger = new PrivacyLedger({ delta: 1e-5, orders: ORDERS_2_TO_32 });
    for (let i = 0; i < 10; i++) ledger.record(1e-5, 1);
    const spent = ledger.record(1e-4, 3, 4);
    expect(Math.abs(spent.epsilon - 0.336)).toBeLessThan(1e-3);
    expect(spent.order).toBe(23);
    expect(ledger.entries).toEqual([
      { samplingRate: 1e-5, noiseMultiplier: 1, steps: 10 },
      { samplingRate: 1e-4, noiseMultiplier: 3, steps: 4 },
    ]);
    expect(ledger.steps).toBe(14);
  });

  it('recording rounds one at a time equals accounting for them at once', () => {
    const ledger = new PrivacyLedger({ delta: 1e-5 });
    for (let i = 0; i < 200; i++) ledger.record(0.02, 1.1);
    const direct = epsilonFor({ samplingRate: 0.02, noiseMultiplier: 1.1, steps: 200, delta: 1e-5 });
    expect(ledger.spent().order).toBe(direct.order);
    expect(Math.abs(ledger.spent().epsilon / direct.epsilon - 1)).toBeLessThan(1e-12);
    expect(ledger.spent('classic').epsilon).toBeGreaterThan(direct.epsilon);
  });

  it('previews and refuses a round past the budget without recording it', () => {
    const ledger = new PrivacyLedger({ delta: 1e-5 });
    ledger.record(0.01, 1, 50);
    const now = ledger.spent().epsilon;
    const next = ledger.preview(0.01, 1).epsilon;
    expect(next).toBeGreaterThan(now);
    expect(ledger.wouldExceed(next * 1.0001, 0.01, 1)).toBe(false);
    expect(ledger.wouldExceed(next * 0.9999, 0.01, 1)).toBe(true);
    expect(ledger.wouldExceed(1, 0.01, 0)).toBe(true);
    expect(ledger.spent().epsilon).toBe(now);
    expect(ledger.steps).toBe(50);
    expect(() => ledger.wouldExceed(0, 0.01, 1)).toThrow('"budget" expected positive finite number, got 0');
  });

  it('survives a JSON round trip, infinite RDP included', () => {
    const ledger = new PrivacyLedger({ delta: 1e-6 });
    ledger.record(0.05, 0.9, 20);
    ledger.record(0.03, 1.3, 7);
    const restored = PrivacyLedger.fromJSON(JSON.parse(JSON.stringify(ledger)));
    expect(restored.spent()).toEqual(ledger.spent());
    expect(restored.entries).toEqual(ledger.entries);
    expect(restored.delta).toBe(1e-6);
    restored.record(0.03, 1.3);
    expect(restored.entries.at(-1)).toEqual({ samplingRate: 0.03, noiseMultiplier: 1.3, steps: 8 });

    ledger.record(0.1, 0);
    expect(ledger.spent().epsilon).toBe(Number.POSITIVE_INFINITY);
    const json = JSON.parse(JSON.stringify(ledger));
    expect(json.rdp.every((r: number | null) => r === null)).toBe(true);
    expect(PrivacyLedger.fromJSON(json).spent().epsilon).toBe(Number.POSITIVE_INFINITY);
  });

  it.each([
    [null, '"ledger" expected object, got null'],
    [{ version: 2 }, '"ledger.version" expected 1, got 2'],
    [{ version: 1, delta: 1e-5, orders: [2], rdp: [0] }, 'expected arrays'],
    [
      { version: 1, delta: 2, orders: [2], rdp: [0], entries: [] },
      '"delta" expected finite number in (0, 1)',
    ],
    [
      { version: 1, delta: 1e-5, orders: [2], rdp: [0, 1], entries: [] },
      '"ledger.rdp" expected 1 values, got 2',
    ],
    [
      { version: 1, delta: 1e-5, orders: [2], rdp: [-1], entries: [] },
      '"ledger.rdp[0]" expected non-negative',
    ],
    [
      {
        version: 1,
        delta: 1e-5,
        orders: [2],
        rdp: [0],
        entries: [{ samplingRate: 2, noiseMultiplier: 1, steps: 1 }],
      },
      '"ledger.entries[0].samplingRate" expected finite number in [0, 1], got 2',
    ],
  ])('fromJSON refuses %j', (json, message) => {
    expect(() => PrivacyLedger.fromJSON(json)).toThrow(PollenError);
    expect(() => PrivacyLedger.fromJSON(json)).toThrow(message);
  });

  it('refuses bad rounds', () => {
    const ledger = new PrivacyLedger({ delta: 1e-5 });
    expect(() => ledger.record(-0.1, 1)).toThrow('"samplingRate" expected finite number in [0, 1], got -0.1');
    expect(() => ledger.record(0.1, Number.NaN)).toThrow(
      '"noiseMultiplier" expected non-negative finite number',
    );
    expect(() => ledger.record(0.1, 1, -1)).toThrow('"steps" expected integer');
    expect(ledger.steps).toBe(0);
  });
});
