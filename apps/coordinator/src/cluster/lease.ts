import type { Fence } from '../store/types.ts';
import type { Redis } from './redis.ts';

/** How long a lease lives without renewal: a dead holder is replaced after at most this long. */
export const LEASE_TTL_MS = 3000;

// Renew or release only a lease that is still ours (the value names node and token), atomically.
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

const leaseKey = (taskId: string): string => `pollen:lease:${taskId}`;
const tokenKey = (taskId: string): string => `pollen:lease-token:${taskId}`;

/**
 * One round lease per task in Redis, so exactly one node drives a task's rounds: `SET NX PX`
 * with a value naming the node and a fencing token drawn from `INCR` (monotonic per task,
 * never reused). The store refuses round writes under a token lower than one it has seen, so
 * a holder that stalled past its lease cannot commit after the next one started (Kleppmann,
 * "How to do distributed locking", 2016). Held leases are renewed in the background; one that
 * could not be renewed is reported lost.
 */
export class RoundLeases {
  private readonly held = new Map<string, { token: number; value: string }>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly redis: Redis,
    private readonly nodeId: string,
    private readonly onLost: (taskId: string) => void,
    private readonly ttlMs = LEASE_TTL_MS,
  ) {
    this.timer = setInterval(() => void this.renewAll(), Math.floor(ttlMs / 3));
    this.timer.unref();
  }

  /**
   * This node's fence for the task: the lease it holds, or a new one when nobody holds it.
   * `fresh` says the lease was just taken (the previous holder's open rounds are to be closed).
   */
  async acquire(taskId: string): Promise<{ fence: Fence; fresh: boolean } | null> {
    const mine = this.held.get(taskId);
    if (mine) return { fence: { token: mine.token }, fresh: false };
    if (await this.redis.exists(leaseKey(taskId))) return null;
    const token = await this.redis.incr(tokenKey(taskId));
    const value = `${this.nodeId}:${token}`;
    const ok = await this.redis.set(leaseKey(taskId), value, {
      condition: 'NX',
      expiration: { type: 'PX', value: this.ttlMs },
    });
    if (ok !== 'OK') return null;
    this.held.set(taskId, { token, value });
    return { fence: { token }, fresh: true };
  }

  /** The fence this node holds for a task, if it holds the lease. */
  fence(taskId: string): Fence | undefined {
    const mine = this.held.get(taskId);
    return mine ? { token: mine.token } : undefined;
  }

  /** Which node holds a task's lease, if any. */
  async holder(taskId: string): Promise<string | null> {
    const value = await this.redis.get(leaseKey(taskId));
    return value ? value.slice(0, value.lastIndexOf(':')) : null;
  }

  private async renewAll(): Promise<void> {
    for (const [taskId, { value }] of [...this.held]) {
      let renewed = false;
      try {
        renewed =
          Number(
            await this.redis.eval(RENEW, {
              keys: [leaseKey(taskId)],
              arguments: [value, String(this.ttlMs)],
            }),
          ) === 1;
      } catch {
        // Redis unreachable: the lease will expire there too; stop acting as holder.
      }
      if (!renewed && this.held.get(taskId)?.value === value) {
        this.held.delete(taskId);
        this.onLost(taskId);
      }
    }
  }

  /** Give every lease back (a clean shutdown), so another node takes over at once. */
  async releaseAll(): Promise<void> {
    clearInterval(this.timer);
    const held = [...this.held];
    this.held.clear();
    for (const [taskId, { value }] of held) {
      await this.redis.eval(RELEASE, { keys: [leaseKey(taskId)], arguments: [value] }).catch(() => {});
    }
  }
}
