import type { Clock } from '../clock.ts';

/**
 * How long a version stays pinned after an export asked for it: tfjs reads model.json, then
 * the weights it names, so the version must outlive the first request by the second.
 */
export const EXPORT_PIN_MS = 10 * 60_000;

/**
 * Versions an export in progress needs, per task, each until its time runs out (on the
 * coordinator's clock): retention never prunes a pinned version. Pins live in this process;
 * in a cluster, a commit on another node does not see them (docs/operating.md, "Version
 * retention").
 */
export class VersionPins {
  private readonly pins = new Map<string, Map<number, number>>();

  constructor(private readonly clock: Clock) {}

  /** Keep `version` of `taskId` for `ms` from now (or longer, if it was already pinned longer). */
  pin(taskId: string, version: number, ms = EXPORT_PIN_MS): void {
    let task = this.pins.get(taskId);
    if (!task) {
      task = new Map();
      this.pins.set(taskId, task);
    }
    task.set(version, Math.max(task.get(version) ?? 0, this.clock.now() + ms));
  }

  /** The versions of `taskId` pinned now; expired pins are forgotten. */
  pinned(taskId: string): number[] {
    const task = this.pins.get(taskId);
    if (!task) return [];
    const now = this.clock.now();
    for (const [version, until] of task) if (until <= now) task.delete(version);
    if (task.size === 0) this.pins.delete(taskId);
    return [...task.keys()];
  }
}
