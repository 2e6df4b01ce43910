/**
 * Requests a page makes of a worker, each answered by a reply carrying its id: the one helper
 * for that (the training worker's `train`, the try-model worker's `predict`), so no caller
 * keeps its own map of pending promises. `Context` is what the caller wants back with a
 * reply that is not the answer yet (the round a progress report belongs to).
 */
export class WorkerCalls<Reply, Context = undefined> {
  private next = 0;
  private readonly waiting = new Map<
    number,
    { readonly resolve: (reply: Reply) => void; readonly context: Context }
  >();

  /** Post a request under a fresh id; resolves with the reply `settle` is given for that id. */
  call(post: (id: number) => void, context: Context): Promise<Reply> {
    const id = ++this.next;
    const answer = new Promise<Reply>((resolve) => this.waiting.set(id, { resolve, context }));
    try {
      post(id);
    } catch (err) {
      this.waiting.delete(id);
      throw err;
    }
    return answer;
  }

  /** What the caller gave with request `id`, while it waits. */
  context(id: number): Context | undefined {
    return this.waiting.get(id)?.context;
  }

  /** The answer to request `id` (ignored when nothing waits on it any more). */
  settle(id: number, reply: Reply): void {
    const entry = this.waiting.get(id);
    this.waiting.delete(id);
    entry?.resolve(reply);
  }

  /** Answer every waiting request with `reply` (the worker stopped). */
  settleAll(reply: Reply): void {
    const entries = [...this.waiting.values()];
    this.waiting.clear();
    for (const entry of entries) entry.resolve(reply);
  }
}
