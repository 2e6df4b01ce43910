import { describe, expect, it } from 'vitest';
import { ManualClock } from '../testing/manual-clock.ts';
import { type UploadGrant, UploadSlots } from './upload-slots.ts';

const MB = 1024 * 1024;
const HOLD_MS = 10_000;

function slots(budget = 10 * MB): { slots: UploadSlots; clock: ManualClock } {
  const clock = new ManualClock();
  return { slots: new UploadSlots(budget, clock, () => HOLD_MS), clock };
}

/** Request a slot and record when (and whether) it was granted. */
function ask(
  s: UploadSlots,
  socketId: string,
  bytes: number,
  { roundId = 1, open = () => true }: { roundId?: number; open?: () => boolean } = {},
): { granted: () => boolean; refused: () => string | null; done: Promise<UploadGrant | null> } {
  let granted = false;
  let refused: string | null = null;
  const done = s.request({ socketId, roundId, bytes, open }).then(
    (grant) => {
      granted = true;
      return grant;
    },
    (err: { code: string }) => {
      refused = err.code;
      return null;
    },
  );
  return { granted: () => granted, refused: () => refused, done };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('UploadSlots', () => {
  it('grants in order while the bytes fit the budget, and the next once an upload arrives', async () => {
    const { slots: s } = slots(10 * MB);
    const a = ask(s, 'a', 4 * MB);
    const b = ask(s, 'b', 4 * MB);
    const c = ask(s, 'c', 4 * MB);
    await settle();
    expect([a.granted(), b.granted(), c.granted()]).toEqual([true, true, false]);
    expect(s.inFlightBytes).toBe(8 * MB);
    expect(s.queued).toBe(1);
    s.expect('a', 1);
    s.release('a');
    await settle();
    expect(c.granted()).toBe(true);
    expect(s.inFlightBytes).toBe(8 * MB);
  });

  it('lets one upload larger than the budget through alone', async () => {
    const { slots: s } = slots(1 * MB);
    const a = ask(s, 'a', 20 * MB);
    const b = ask(s, 'b', 20 * MB);
    await settle();
    expect([a.granted(), b.granted()]).toEqual([true, false]);
    s.release('a');
    await settle();
    expect(b.granted()).toBe(true);
  });

  it('refuses an upload without a slot, or with a slot for another round', async () => {
    const { slots: s } = slots();
    expect(() => s.expect('a', 1)).toThrow(expect.objectContaining({ code: 'NO_UPLOAD_SLOT' }));
    const queued = ask(s, 'b', 20 * MB);
    const waiting = ask(s, 'a', MB);
    await settle();
    expect(queued.granted()).toBe(true);
    // Still waiting for its turn: not granted yet.
    expect(() => s.expect('a', 1)).toThrow(expect.objectContaining({ code: 'NO_UPLOAD_SLOT' }));
    expect(waiting.granted()).toBe(false);
    expect(() => s.expect('b', 2)).toThrow(expect.objectContaining({ code: 'NO_UPLOAD_SLOT' }));
    s.expect('b', 1);
    // An upload that arrives without its slot (refused) leaves a waiting request its place; a
    // granted one's arrival, taken or refused, frees its bytes for the next.
    s.arrived('a');
    expect(s.queued).toBe(1);
    s.arrived('b');
    await settle();
    expect(waiting.granted()).toBe(true);
  });

  it('stops counting a granted slot whose upload is late, and keeps its permission', async () => {
    const { slots: s, clock } = slots(5 * MB);
    const slow = ask(s, 'slow', 4 * MB);
    const next = ask(s, 'next', 4 * MB);
    await settle();
    expect([slow.granted(), next.granted()]).toEqual([true, false]);
    expect((await slow.done)?.grantMs).toBe(HOLD_MS);
    clock.advance(HOLD_MS);
    await settle();
    expect(next.granted()).toBe(true);
    // The slow device's upload is still taken when it arrives.
    s.expect('slow', 1);
    s.release('slow');
    expect(s.inFlightBytes).toBe(4 * MB);
  });

  it('gives up a closed connection: its bytes, or its place in the queue', async () => {
    const { slots: s } = slots(5 * MB);
    const a = ask(s, 'a', 4 * MB);
    const b = ask(s, 'b', 4 * MB);
    const c = ask(s, 'c', 4 * MB);
    await settle();
    s.release('b');
    await settle();
    expect(b.refused()).toBe('ROUND_CLOSED');
    expect(a.granted()).toBe(true);
    s.release('a');
    await settle();
    expect(c.granted()).toBe(true);
    expect(s.queued).toBe(0);
    expect(s.inFlightBytes).toBe(4 * MB);
  });

  it('refuses a waiting request whose round closed when its turn comes', async () => {
    const { slots: s } = slots(5 * MB);
    let open = true;
    ask(s, 'a', 4 * MB);
    const b = ask(s, 'b', 4 * MB, { open: () => open });
    const c = ask(s, 'c', 1 * MB);
    await settle();
    open = false;
    s.release('a');
    await settle();
    expect(b.refused()).toBe('ROUND_CLOSED');
    expect(c.granted()).toBe(true);
  });

  it('answers a repeated request for the held round at once, and moves a device asking for another round to the back', async () => {
    const { slots: s } = slots(5 * MB);
    const first = ask(s, 'a', 4 * MB);
    await settle();
    expect(first.granted()).toBe(true);
    const again = ask(s, 'a', 4 * MB);
    await settle();
    expect(again.granted()).toBe(true);
    expect(s.inFlightBytes).toBe(4 * MB);
    const b = ask(s, 'b', 4 * MB);
    const other = ask(s, 'a', 4 * MB, { roundId: 2 });
    await settle();
    // Round 1's slot was given up for round 2's request, which waits behind b.
    expect(b.granted()).toBe(true);
    expect(other.granted()).toBe(false);
    expect(() => s.expect('a', 1)).toThrow(expect.objectContaining({ code: 'NO_UPLOAD_SLOT' }));
    s.close();
    await settle();
    expect(other.refused()).toBe('ROUND_CLOSED');
  });
});
