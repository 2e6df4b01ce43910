import { specSize } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { NodeContributor, OPERATOR_HEADERS, waitFor } from '../testing/harness.ts';
import { ManualClock } from '../testing/manual-clock.ts';
import { testSession } from '../testing/session.ts';
import { EXPORT_PIN_MS, VersionPins } from './version-pins.ts';

const session = testSession();

describe('version retention', () => {
  it("prunes old versions' weights as rounds commit, never an exported or a running round's one; a pruned export answers 410", async () => {
    const clock = new ManualClock();
    const coordinator = await session.start(
      {
        rounds: {
          cohortSize: 2,
          minReports: 2,
          minClients: 2,
          overSelection: 1,
          deadlineMs: 60_000,
          maxRounds: 4,
        },
      },
      undefined,
      { clock, retention: { keepLast: 1, keepEvery: 0 } },
    );
    const get = (url: string) => coordinator.app.inject({ url, headers: OPERATOR_HEADERS });
    // An export of version 0 begins (model.json first, the weights it names after).
    expect((await get('/api/tasks/tiny/model?version=0')).statusCode).toBe(200);
    const d = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
    for (const id of ['client-aaaa', 'client-bbbb']) {
      const c = new NodeContributor(coordinator.url, id, () => new Float32Array(d).fill(0.01));
      session.clients.push(c);
      await c.hello('tiny', 10);
    }
    await waitFor(async () => (await coordinator.store.getTask('tiny'))!.status === 'completed');
    // Kept: 0 (exported), 4 (the last one), 3 (the base of the round that committed 4, in flight
    // during that commit); pruned: 1 and 2.
    const versions = await get('/api/tasks/tiny/versions');
    expect(versions.json().map((v: { version: number; pruned: boolean }) => [v.version, v.pruned])).toEqual([
      [0, false],
      [1, true],
      [2, true],
      [3, false],
      [4, false],
    ]);
    expect((await get('/api/tasks/tiny/model/weights.bin?version=0')).statusCode).toBe(200);
    expect((await get('/api/tasks/tiny/model/weights.bin')).rawPayload.byteLength).toBe(4 * d);
    for (const url of ['/api/tasks/tiny/model/weights.bin?version=1', '/api/tasks/tiny/model?version=2']) {
      const res = await get(url);
      expect(res.statusCode).toBe(410);
      expect(res.json()).toMatchObject({ ok: false, code: 'VERSION_PRUNED' });
      expect(res.json().message).toMatch(/was pruned by the retention policy/);
    }
    // Every round record and checksum stays.
    const rounds = await coordinator.store.listRounds('tiny');
    expect(rounds.map((r) => [r.status, r.newVersion])).toEqual([
      ['committed', 1],
      ['committed', 2],
      ['committed', 3],
      ['committed', 4],
    ]);
    for (const r of rounds) expect(r.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it('pins a version for an export until its time runs out on the clock', () => {
    const clock = new ManualClock();
    const pins = new VersionPins(clock);
    pins.pin('tiny', 3);
    pins.pin('tiny', 5, 1000);
    pins.pin('other', 1, 10);
    expect(pins.pinned('tiny').sort()).toEqual([3, 5]);
    clock.advance(1000);
    expect(pins.pinned('tiny')).toEqual([3]);
    // Pinned again for less: the longer pin holds.
    pins.pin('tiny', 3, 1);
    clock.advance(EXPORT_PIN_MS - 1000 - 1);
    expect(pins.pinned('tiny')).toEqual([3]);
    clock.advance(1);
    expect(pins.pinned('tiny')).toEqual([]);
    expect(pins.pinned('other')).toEqual([]);
    expect(pins.pinned('none')).toEqual([]);
  });
});
