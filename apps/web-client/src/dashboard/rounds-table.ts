import type { OperatorRound } from '@pollen/fl-core';
import { fiveNumbers, formatBytes, heldOutText } from './stats.ts';

/** Rows the log keeps: the charts show the whole run, the log the latest rounds. */
const ROWS = 50;

function cells(r: OperatorRound): string[] {
  // The clients' spread of the first metric besides loss (accuracy, mse, ...), or of their loss.
  const names = r.clientMetrics.flatMap((m) => Object.keys(m.metrics));
  const name = names.find((n) => n !== 'loss') ?? 'loss';
  const spread = fiveNumbers(r.clientMetrics.flatMap((m) => m.metrics[name] ?? []));
  return [
    String(r.roundId),
    r.status,
    String(r.selected),
    String(r.reported),
    r.status === 'open' ? '-' : String(r.dropped),
    r.deadlineHit ? 'yes' : '',
    r.status !== 'committed' ? '-' : heldOutText(r),
    spread
      ? `${name} ${spread.min.toFixed(2)} / ${spread.median.toFixed(2)} / ${spread.max.toFixed(2)}`
      : '-',
    `${formatBytes(r.bytesUp)} / ${formatBytes(r.bytesDown)}`,
    Object.entries(r.backends)
      .map(([b, n]) => `${b} ${n}`)
      .join(', '),
    r.endedAt ? `${((r.endedAt - r.startedAt) / 1000).toFixed(1)} s` : 'running',
  ];
}

/** The round log: newest first, one row per round, updated in place as a round progresses. */
export function drawRounds(body: HTMLElement, rounds: readonly OperatorRound[]): void {
  body.replaceChildren(
    ...rounds
      .slice(-ROWS)
      .reverse()
      .map((r) => {
        const tr = document.createElement('tr');
        tr.dataset.round = String(r.roundId);
        for (const text of cells(r)) {
          const td = document.createElement('td');
          td.textContent = text;
          tr.append(td);
        }
        tr.children[1]!.className = r.status;
        if (r.reason) tr.title = r.reason;
        return tr;
      }),
  );
}
