import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../testing/harness.ts';
import { serversMissing, startRedis, type TestServer } from '../testing/servers.ts';
import { RoundLeases } from './lease.ts';
import { connectRedis, type Redis } from './redis.ts';

const missing = serversMissing();
let server: TestServer | null = null;
const clients: Redis[] = [];

beforeAll(async () => {
  if (!missing) server = await startRedis();
}, 30_000);
afterAll(async () => {
  for (const c of clients) await c.quit().catch(() => {});
  await server?.stop();
});

async function redis(): Promise<Redis> {
  const c = await connectRedis(server!.url, () => {});
  clients.push(c);
  return c;
}

describe.skipIf(missing !== null)('round leases in Redis', () => {
  it('lets one node of two hold a task, keeps it renewed, and hands it on with a larger token once the holder gives it back', async () => {
    const lost: string[] = [];
    const a = new RoundLeases(await redis(), 'node-a', (t) => lost.push(`a:${t}`), 300);
    const b = new RoundLeases(await redis(), 'node-b', (t) => lost.push(`b:${t}`), 300);
    const [ga, gb] = await Promise.all([a.acquire('t1'), b.acquire('t1')]);
    const winner = ga ? a : b;
    const loser = ga ? b : a;
    expect([ga, gb].filter((g) => g !== null)).toHaveLength(1);
    const first = (ga ?? gb)!;
    expect(first.fresh).toBe(true);
    // Renewed in the background: still held past its TTL, the other still refused.
    await new Promise((r) => setTimeout(r, 700));
    expect(await winner.acquire('t1')).toEqual({ fence: first.fence, fresh: false });
    expect(await loser.acquire('t1')).toBeNull();
    expect(await loser.holder('t1')).toBe(ga ? 'node-a' : 'node-b');
    // Another task's lease is independent.
    expect((await loser.acquire('t2'))!.fresh).toBe(true);

    // The holder gives it back (a clean shutdown; a killed one is left to expire, see failover.test.ts).
    await winner.releaseAll();
    const next = await waitFor(() => loser.acquire('t1'), 15_000);
    expect(next.fresh).toBe(true);
    expect(next.fence.token).toBeGreaterThan(first.fence.token);
    await loser.releaseAll();
    expect(lost).toEqual([]);
  });

  it('reports a lease lost when another value replaced it (the holder stalled past its TTL)', async () => {
    const r = await redis();
    const lost: string[] = [];
    const a = new RoundLeases(r, 'node-a', (t) => lost.push(t), 300);
    const got = (await a.acquire('t3'))!;
    await r.set('pollen:lease:t3', 'node-b:999');
    await waitFor(() => lost.length > 0, 15_000);
    expect(lost).toEqual(['t3']);
    expect(a.fence('t3')).toBeUndefined();
    expect(got.fence.token).toBeGreaterThan(0);
    await a.releaseAll();
    // Releasing never deletes someone else's lease.
    expect(await r.get('pollen:lease:t3')).toBe('node-b:999');
  });
});
