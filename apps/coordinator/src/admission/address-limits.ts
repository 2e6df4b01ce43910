import { PollenError } from '@pollen/fl-core';
import { RateLimiter } from '../rounds/rate-limit.ts';

/** Per-address limits on contributor connections; 0 turns a limit off. */
export interface AddressLimitSettings {
  /** Contributor connections open at once from one address. */
  readonly maxConnections: number;
  /** Handshakes (each connection says hello once) per second from one address, sustained. */
  readonly hellosPerSecond: number;
}

/**
 * Defaults for a public deployment where one address is one household or small office. A
 * campus or carrier NAT puts thousands of devices behind one address: raise both there
 * (docs/operating.md).
 */
export const DEFAULT_ADDRESS_LIMITS: AddressLimitSettings = { maxConnections: 256, hellosPerSecond: 10 };
/** A burst of this many seconds' worth of hellos is allowed at once (a page of tabs reopening). */
const BURST_SECONDS = 10;

/**
 * Connections and hello rate per remote address, checked in the handshake before any work is
 * done for it. `admit` reserves a connection slot; the release it returns frees it (idempotent).
 */
export class AddressLimits {
  private readonly open = new Map<string, number>();
  private readonly hellos: RateLimiter | null;

  constructor(
    private readonly settings: AddressLimitSettings,
    now: () => number = Date.now,
  ) {
    const { hellosPerSecond } = settings;
    this.hellos =
      hellosPerSecond > 0
        ? new RateLimiter(hellosPerSecond, Math.max(1, Math.ceil(hellosPerSecond * BURST_SECONDS)), now)
        : null;
  }

  /** Reserve a connection for `address`, or throw TOO_MANY_CONNECTIONS / RATE_LIMITED. */
  admit(address: string): () => void {
    const { maxConnections } = this.settings;
    const count = this.open.get(address) ?? 0;
    if (maxConnections > 0 && count >= maxConnections) {
      throw new PollenError(
        'TOO_MANY_CONNECTIONS',
        `${maxConnections} contributor connections are already open from this address`,
      );
    }
    try {
      this.hellos?.take(address);
    } catch {
      throw new PollenError(
        'RATE_LIMITED',
        `more than ${this.settings.hellosPerSecond} connections per second from this address; retry later`,
      );
    }
    this.open.set(address, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(address) ?? 1) - 1;
      if (left > 0) this.open.set(address, left);
      else this.open.delete(address);
    };
  }

  /** Connections open from `address`. */
  connections(address: string): number {
    return this.open.get(address) ?? 0;
  }
}
