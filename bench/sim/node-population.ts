import { type ExampleSet, initTf } from '@pollen/ml';
import type { Behaviour } from './behaviour.ts';
import { api } from './coordinator.ts';
import { NodeClient, type TaskInfo } from './node-client.ts';
import { inBatches, type Population } from './population.ts';

/** Client ids of simulated Node devices (the coordinator wants 8..64 of [A-Za-z0-9_-]). */
export function nodeClientId(index: number, prefix = 'sim-node'): string {
  return `${prefix}-${String(index).padStart(5, '0')}`;
}

/** Fetch what a client needs to know of a task. */
export async function fetchTask(url: string, taskId: string): Promise<TaskInfo> {
  const { spec } = await api<{ spec: TaskInfo }>(url, `/api/tasks/${taskId}`);
  const { model, input, target, loss, metrics, training } = spec;
  const trainable = training?.trainable;
  return {
    id: taskId,
    model,
    input,
    target,
    loss,
    metrics,
    ...(trainable ? { training: { trainable } } : {}),
  };
}

/** Start `count` Node clients against a coordinator, `concurrency` at a time. */
export async function startNodePopulation(options: {
  url: string;
  taskId: string;
  count: number;
  concurrency: number;
  behaviour: Behaviour | null;
  train?: boolean;
  idPrefix?: string;
  /** Each client's own examples, by index (`pnpm sim --data`); absent: the coordinator's demo shards. */
  examples?: readonly ExampleSet[];
}): Promise<Population & { readonly clients: readonly NodeClient[] }> {
  if (options.train !== false) await initTf();
  const task = await fetchTask(options.url, options.taskId);
  const clients = Array.from(
    { length: options.count },
    (_, i) =>
      new NodeClient(
        options.url,
        task,
        nodeClientId(i, options.idPrefix),
        options.behaviour,
        options.train !== false,
        options.examples?.[i] ?? null,
      ),
  );
  const closeAll = async (): Promise<void> => {
    for (const c of clients) c.close();
  };
  try {
    await inBatches(clients, options.concurrency, (c) => c.start());
  } catch (err) {
    await closeAll();
    throw err;
  }
  const churning = new Set<Promise<void>>();
  return {
    clients,
    size: clients.length,
    connected: () => clients.filter((c) => c.connected).length,
    churn() {
      for (const c of clients) {
        const away = options.behaviour?.churnAfterRound();
        if (away === undefined || away === null) continue;
        const p = c.leaveFor(away).catch(() => undefined);
        churning.add(p);
        void p.finally(() => churning.delete(p));
      }
    },
    stats() {
      const sum: Record<string, number | string> = {};
      for (const c of clients) {
        for (const [k, v] of Object.entries(c.stats)) sum[k] = ((sum[k] as number | undefined) ?? 0) + v;
      }
      const failed = clients.find((c) => c.lastError);
      if (failed) sum.lastError = `${failed.clientId}: ${failed.lastError}`;
      return sum;
    },
    close: closeAll,
  };
}
