import { io } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { contributorAuth, NodeContributor, type TestCoordinator, waitFor } from '../testing/harness.ts';
import { testSession } from '../testing/session.ts';
import { AddressLimits } from './address-limits.ts';

const code = (fn: () => unknown): string => {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return (e as { code: string }).code;
  }
};

describe('per-address limits', () => {
  it('holds open connections per address to the limit and frees a slot when one closes', () => {
    const limits = new AddressLimits({ maxConnections: 2, hellosPerSecond: 0 });
    const first = limits.admit('10.0.0.1');
    limits.admit('10.0.0.1');
    expect(code(() => limits.admit('10.0.0.1'))).toBe('TOO_MANY_CONNECTIONS');
    expect(code(() => limits.admit('10.0.0.2'))).toBe('ok');
    first();
    first();
    expect(limits.connections('10.0.0.1')).toBe(1);
    expect(code(() => limits.admit('10.0.0.1'))).toBe('ok');
  });

  it('allows a burst of ten seconds of hellos, then the sustained rate, per address', () => {
    const clock = { now: 0 };
    const limits = new AddressLimits({ maxConnections: 0, hellosPerSecond: 2 }, () => clock.now);
    for (let i = 0; i < 20; i++) expect(code(() => limits.admit('10.0.0.1'))).toBe('ok');
    expect(code(() => limits.admit('10.0.0.1'))).toBe('RATE_LIMITED');
    expect(code(() => limits.admit('10.0.0.2'))).toBe('ok');
    clock.now = 500;
    expect(code(() => limits.admit('10.0.0.1'))).toBe('ok');
    expect(code(() => limits.admit('10.0.0.1'))).toBe('RATE_LIMITED');
  });
});

describe('a coordinator with per-address limits', () => {
  let coordinator: TestCoordinator | undefined;
  const session = testSession();

  it('refuses connections past the limit from one address and keeps serving the others', async () => {
    coordinator = await session.start({}, undefined, {
      admission: { maxConnectionsPerAddress: 2, hellosPerSecondPerAddress: 100 },
    });
    const local = ['client-nat-1', 'client-nat-2', 'client-nat-3'].map((id) => {
      const c = new NodeContributor(coordinator!.url, id);
      session.clients.push(c);
      return c;
    });
    expect(await local[0]!.connected()).toEqual({ ok: true });
    expect(await local[1]!.connected()).toEqual({ ok: true });
    expect(await local[2]!.connected()).toEqual({ ok: false, code: 'TOO_MANY_CONNECTIONS' });
    // The two admitted keep being served, and so is a device at another address.
    expect((await local[0]!.hello()).ok).toBe(true);
    expect((await local[1]!.hello()).ok).toBe(true);
    const elsewhere = io(coordinator.url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      localAddress: '127.0.0.2',
      auth: contributorAuth('client-elsewhere'),
    } as Parameters<typeof io>[1]);
    try {
      await new Promise<void>((resolve, reject) => {
        elsewhere.once('connect', resolve);
        elsewhere.once('connect_error', reject);
      });
      expect(coordinator.engine.population.counts().total).toBe(2);
    } finally {
      elsewhere.close();
    }
    // A slot frees when a connection closes.
    local[0]!.close();
    await waitFor(() => coordinator!.engine.population.counts().total === 1);
    const later = new NodeContributor(coordinator.url, 'client-nat-4');
    session.clients.push(later);
    expect(await later.connected()).toEqual({ ok: true });
  });
});
