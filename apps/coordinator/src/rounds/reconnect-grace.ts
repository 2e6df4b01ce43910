import type { Clock } from '../clock.ts';
import type { Contributor } from './population.ts';
import type { TaskService } from './task-service.ts';

/**
 * How long a selected client whose connection broke keeps its place in the round: a tab keeps
 * training through a network drop, reconnects with the same client id and uploads.
 */
export const RECONNECT_GRACE_MS = 10_000;

/**
 * Selected clients whose connection broke, by client id: the round they were in and the drop
 * that follows unless they return within RECONNECT_GRACE_MS.
 */
export class ReconnectGrace {
  private readonly awaited = new Map<string, { readonly roundId: number; readonly cancel: () => void }>();

  constructor(
    private readonly tasks: TaskService,
    private readonly clock: Clock,
  ) {}

  /** Drop a selected client from its round unless it says hello again within the grace period. */
  await(c: Contributor, roundId: number): void {
    this.awaited.get(c.clientId)?.cancel();
    const cancel = this.clock.setTimeout(() => {
      this.awaited.delete(c.clientId);
      if (this.tasks.population.byClientId(c.clientId)) return;
      this.tasks.runner(c.taskId)?.drop(c.clientId, roundId);
    }, RECONNECT_GRACE_MS);
    this.awaited.set(c.clientId, { roundId, cancel });
  }

  /**
   * A client that came back within its grace period is in its round again, and is sent the
   * round's start once more: the one it was sent may have been lost with its connection (a
   * client already training that round ignores the repeat).
   */
  resume(clientId: string): void {
    const awaited = this.awaited.get(clientId);
    if (!awaited) return;
    awaited.cancel();
    this.awaited.delete(clientId);
    const c = this.tasks.population.byClientId(clientId);
    if (c) this.tasks.runner(c.taskId)?.resume(c, awaited.roundId);
  }

  close(): void {
    for (const { cancel } of this.awaited.values()) cancel();
    this.awaited.clear();
  }
}
