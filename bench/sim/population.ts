/** A simulated population, in Node or in Chromium tabs, as the simulation driver sees it. */
export interface Population {
  readonly size: number;
  /** Clients connected right now. */
  connected(): number;
  /** After a round closed: let clients leave and come back, per `--churn`. */
  churn(): void;
  /** Counters for the report (uploads, drop-outs injected, reconnects, ...). */
  stats(): Record<string, number | string>;
  close(): Promise<void>;
}

/** Run `fn` over `items` with at most `limit` in flight. */
export async function inBatches<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
