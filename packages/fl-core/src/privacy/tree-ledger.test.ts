import { describe, expect, it } from 'vitest';
import { treeEpsilon } from './tree-accountant.ts';
import { TreeLedger, treeSegments } from './tree-ledger.ts';

const params = { delta: 1e-5, noiseMultiplier: 1, minSeparation: 3, restartEvery: 4 };

describe('TreeLedger', () => {
  it('splits rounds into trees by the restart rule', () => {
    expect(treeSegments(0, 4)).toEqual([]);
    expect(treeSegments(10, 4)).toEqual([4, 4, 2]);
    expect(treeSegments(8, 4)).toEqual([4, 4]);
    expect(treeSegments(10, 0)).toEqual([10]);
  });

  it('charges what the tree accountant says for the rounds so far', () => {
    const ledger = new TreeLedger(params);
    for (let t = 0; t < 10; t++) ledger.record([`c${t}`]);
    expect(ledger.spent().epsilon).toBe(
      treeEpsilon({ noiseMultiplier: 1, minSeparation: 3, segments: [4, 4, 2], delta: 1e-5 }).epsilon,
    );
    // An 11th round makes the last tree 3 long, as deep as 2 (a client once in it): no more.
    expect(ledger.preview().epsilon).toBe(ledger.spent().epsilon);
    expect(ledger.preview(2).epsilon).toBeGreaterThan(ledger.spent().epsilon);
    ledger.record([]);
    expect(ledger.wouldExceed(ledger.preview().epsilon)).toBe(false);
    expect(ledger.wouldExceed(ledger.preview().epsilon * 0.999)).toBe(true);
  });

  it('a client may come back only b rounds after its last one', () => {
    const ledger = new TreeLedger(params);
    ledger.record(['a', 'b']); // round 1
    expect(ledger.eligible('a')).toBe(false); // round 2
    ledger.record(['c']);
    expect(ledger.eligible('a')).toBe(false); // round 3
    expect(ledger.eligible('c')).toBe(false);
    ledger.record([]);
    expect(ledger.eligible('a')).toBe(true); // round 4 = 1 + 3
    expect(ledger.eligible('c')).toBe(false);
    expect(ledger.eligible('never')).toBe(true);
    // Clients that no longer bind are forgotten.
    expect(Object.keys(ledger.toJSON().recent)).toEqual(['c']);
  });

  it('round-trips through JSON and refuses a malformed one', () => {
    const ledger = new TreeLedger(params);
    ledger.record(['a']);
    ledger.record(['b']);
    const copy = TreeLedger.fromJSON(JSON.parse(JSON.stringify(ledger.toJSON())));
    expect(copy.rounds).toBe(2);
    expect(copy.eligible('a')).toBe(false);
    expect(copy.spent()).toEqual(ledger.spent());
    expect(() => TreeLedger.fromJSON({ ...ledger.toJSON(), kind: 'rdp' })).toThrow(/tree/);
    expect(() => TreeLedger.fromJSON({ ...ledger.toJSON(), recent: { a: 9 } })).toThrow(/recent/);
    expect(() => TreeLedger.fromJSON({ ...ledger.toJSON(), noiseMultiplier: 0 })).toThrow(/noiseMultiplier/);
  });
});
