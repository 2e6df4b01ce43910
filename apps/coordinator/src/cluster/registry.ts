import type { Backend } from '@pollen/fl-core';
import type { Population } from '../rounds/population.ts';
import type { Redis } from './redis.ts';

/** An idle, eligible client connected to some node of the cluster. */
export interface RemoteClient {
  readonly clientId: string;
  readonly socketId: string;
  readonly nodeId: string;
  readonly numExamples: number;
  readonly backend: Backend;
}

/** A node's entry lives this long unless refreshed: a dead node's clients vanish from selection. */
const ENTRY_TTL_MS = 3000;
const REFRESH_MS = 500;
const NODES_KEY = 'pollen:nodes';
const entryKey = (taskId: string, nodeId: string): string => `pollen:clients:${taskId}:${nodeId}`;

/**
 * Which clients each node can offer a task's lease holder. Every node writes its available
 * clients per task to Redis under a short TTL, on each population change (throttled) and every
 * half second; the holder reads all nodes' entries when it selects. Chosen over
 * `io.fetchSockets()` through the adapter because that asks every node and waits for all
 * answers, so a dead node would stall selection for the adapter's whole timeout exactly when a
 * failover needs it; an expired entry just drops out.
 */
export class ClientRegistry {
  private readonly timer: NodeJS.Timeout;
  private pending: NodeJS.Timeout | null = null;
  private readonly onChange = (): void => {
    this.pending ??= setTimeout(() => {
      this.pending = null;
      void this.publish();
    }, 50);
  };

  constructor(
    private readonly redis: Redis,
    private readonly nodeId: string,
    private readonly population: Population,
    private readonly tasks: () => readonly string[],
    private readonly onError: (err: unknown) => void,
  ) {
    this.timer = setInterval(() => void this.publish(), REFRESH_MS);
    this.timer.unref();
    population.on('change', this.onChange);
  }

  async start(): Promise<void> {
    await this.redis.sAdd(NODES_KEY, this.nodeId);
    await this.publish();
  }

  /** Write this node's available clients of every task. */
  async publish(): Promise<void> {
    try {
      const multi = this.redis.multi();
      for (const taskId of this.tasks()) {
        const clients: RemoteClient[] = this.population.available(taskId).map((c) => ({
          clientId: c.clientId,
          socketId: c.socketId,
          nodeId: this.nodeId,
          numExamples: c.numExamples,
          backend: c.backend,
        }));
        multi.set(entryKey(taskId, this.nodeId), JSON.stringify(clients), {
          expiration: { type: 'PX', value: ENTRY_TTL_MS },
        });
      }
      await multi.exec();
    } catch (err) {
      this.onError(err);
    }
  }

  /** The available clients of a task on every other live node. */
  async remote(taskId: string): Promise<RemoteClient[]> {
    const nodes = (await this.redis.sMembers(NODES_KEY)).filter((n) => n !== this.nodeId);
    if (nodes.length === 0) return [];
    const values = await this.redis.mGet(nodes.map((n) => entryKey(taskId, n)));
    return values.flatMap((v) => (v ? (JSON.parse(v) as RemoteClient[]) : []));
  }

  /** Stop publishing and withdraw this node's entries, so no holder selects its clients. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
    this.population.off('change', this.onChange);
    await this.redis.del(this.tasks().map((t) => entryKey(t, this.nodeId))).catch(() => {});
  }
}
