import type { MetricValues } from '@pollen/fl-core';
import type { HistoryEntry } from '../sdk/index.ts';
import { kib, percent, plural } from './format.ts';

/** Rounds the page lists; the SDK keeps more in IndexedDB. */
const SHOWN = 100;

/** A round's local result in words: accuracy where the task measures it, otherwise its loss. */
function localMetric(metrics: MetricValues): string {
  const { accuracy } = metrics;
  return accuracy === undefined
    ? `local loss ${(metrics.loss ?? 0).toFixed(4)}`
    : `local accuracy ${percent(accuracy)}`;
}

/** The list of rounds this device joined, newest first, one item per round. */
export class HistoryList {
  private readonly items = new Map<number, HTMLLIElement>();

  constructor(
    private readonly list: HTMLOListElement,
    private readonly empty: HTMLElement,
  ) {}

  /** Add a round, or update it in place when its outcome arrives. */
  show(entry: HistoryEntry): void {
    let item = this.items.get(entry.roundId);
    if (!item) {
      item = document.createElement('li');
      this.items.set(entry.roundId, item);
      const newer = [...this.items.keys()].filter((id) => id > entry.roundId).sort((a, b) => a - b)[0];
      this.list.insertBefore(
        item,
        newer === undefined ? this.list.firstChild : this.items.get(newer)!.nextSibling,
      );
    }
    item.dataset.round = String(entry.roundId);
    item.className = entry.outcome ?? 'pending';
    const when = new Date(entry.at).toLocaleTimeString();
    const outcome = entry.outcome ?? 'waiting for the round to close';
    const epsilon = entry.epsilon === null ? '' : `, task epsilon ${entry.epsilon.toFixed(2)}`;
    item.textContent =
      `Round ${entry.roundId} (${when}): ${outcome}. Trained on ${plural(entry.numExamples, 'example')} ` +
      `in ${entry.trainMs < 1000 ? `${Math.round(entry.trainMs)} ms` : `${(entry.trainMs / 1000).toFixed(1)} s`}, ${localMetric(entry.metrics)}, ` +
      `sent ${kib(entry.bytes)}${epsilon}.`;
    this.empty.hidden = true;
    if (this.items.size > SHOWN) {
      const oldest = Math.min(...this.items.keys());
      this.items.get(oldest)!.remove();
      this.items.delete(oldest);
    }
  }

  clear(): void {
    this.list.replaceChildren();
    this.items.clear();
    this.empty.hidden = false;
  }
}
