import type { OperatorRound } from '@pollen/fl-core';
import uPlot from 'uplot';
import { fiveNumbers, metricNames } from './stats.ts';

const HEIGHT = 220;
const ACCENT = '#c77d00';
const roundAxis: uPlot.Axis = {
  label: 'round',
  incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000],
};

/** A metric name as part of an element id: letters, digits, `_` and `-` only. */
export const metricId = (name: string): string => name.replace(/[^A-Za-z0-9_-]/g, '-');

interface MetricChart {
  readonly el: HTMLElement;
  readonly note: HTMLElement;
  readonly plot: uPlot;
  readonly kind: 'heldout' | 'clients';
  readonly name: string;
}

function card(title: string, id: string): { card: HTMLElement; el: HTMLElement; note: HTMLElement } {
  const section = document.createElement('div');
  section.className = 'card';
  const h2 = document.createElement('h2');
  h2.textContent = title;
  const note = document.createElement('p');
  note.className = 'muted small';
  const el = document.createElement('div');
  el.id = id;
  el.className = 'chart';
  section.append(h2, note, el);
  return { card: section, el, note };
}

/**
 * One chart per metric the task reports, twice: the held-out value of each committed version
 * by round, and the spread (minimum, quartiles, maximum) of the selected clients' own values.
 * Charts are added as new metric names appear; a task without held-out data says so instead
 * of drawing a figure.
 */
export class MetricCharts {
  private readonly charts: MetricChart[] = [];
  private readonly names = new Set<string>();

  constructor(private readonly container: HTMLElement) {}

  update(rounds: readonly OperatorRound[]): void {
    for (const name of metricNames(rounds)) if (!this.names.has(name)) this.add(name);
    const committed = rounds.filter((r) => r.status === 'committed');
    const evaluated = committed.filter((r) => r.metrics !== null);
    for (const c of this.charts) {
      if (c.kind === 'heldout') {
        const rs = evaluated.filter((r) => r.metrics![c.name] !== undefined);
        c.plot.setData([rs.map((r) => r.roundId), rs.map((r) => r.metrics![c.name]!)]);
        c.el.dataset.points = String(rs.length);
        // Evaluated without figures: held-out metrics attach after each commit, so a round not
        // evaluated yet (or skipped) does not mean the task has none.
        const none = committed.some((r) => r.evaluationMs !== undefined) && evaluated.length === 0;
        c.note.textContent = none ? 'no held-out data' : `Held-out ${c.name} of each committed version.`;
        c.el.dataset.heldOut = none ? 'none' : 'some';
      } else {
        const rs = committed
          .map((r) => ({ id: r.roundId, values: r.clientMetrics.flatMap((m) => m.metrics[c.name] ?? []) }))
          .filter((r) => r.values.length > 0);
        const five = rs.map((r) => fiveNumbers(r.values)!);
        c.plot.setData([
          rs.map((r) => r.id),
          five.map((f) => f.min),
          five.map((f) => f.q1),
          five.map((f) => f.median),
          five.map((f) => f.q3),
          five.map((f) => f.max),
        ]);
        c.el.dataset.points = String(rs.length);
      }
    }
  }

  resize(): void {
    for (const c of this.charts) c.plot.setSize({ width: c.el.clientWidth, height: HEIGHT });
  }

  /** Forget every chart: another task is shown. */
  clear(): void {
    for (const c of this.charts) c.plot.destroy();
    this.charts.length = 0;
    this.names.clear();
    this.container.replaceChildren();
  }

  private add(name: string): void {
    this.names.add(name);
    const held = card(`Held-out ${name} per round`, `heldout-${metricId(name)}-chart`);
    const clients = card(`Local ${name} across clients`, `clients-${metricId(name)}-chart`);
    clients.note.textContent = `Per committed round: minimum, quartiles and maximum of the selected clients' own ${name}.`;
    this.container.append(held.card, clients.card);
    const width = (el: HTMLElement): number => el.clientWidth || 480;
    const heldPlot = new uPlot(
      {
        width: width(held.el),
        height: HEIGHT,
        scales: { x: { time: false } },
        axes: [roundAxis, { label: name }],
        series: [
          {},
          { label: `held-out ${name}`, stroke: ACCENT, width: 2, points: { show: true, size: 5 } },
        ],
      },
      [[], []],
      held.el,
    );
    const band = (label: string, alpha: number): uPlot.Series => ({
      label,
      stroke: `rgba(199, 125, 0, ${alpha})`,
      width: 1,
    });
    const clientPlot = new uPlot(
      {
        width: width(clients.el),
        height: HEIGHT,
        scales: { x: { time: false } },
        axes: [roundAxis, { label: `local ${name}` }],
        bands: [
          { series: [5, 1], fill: 'rgba(199, 125, 0, 0.12)' },
          { series: [4, 2], fill: 'rgba(199, 125, 0, 0.3)' },
        ],
        series: [
          {},
          band('min', 0.4),
          band('q1', 0.6),
          { label: 'median', stroke: ACCENT, width: 2, points: { show: true, size: 5 } },
          band('q3', 0.6),
          band('max', 0.4),
        ],
      },
      [[], [], [], [], [], []],
      clients.el,
    );
    this.charts.push(
      { el: held.el, note: held.note, plot: heldPlot, kind: 'heldout', name },
      { el: clients.el, note: clients.note, plot: clientPlot, kind: 'clients', name },
    );
  }
}
