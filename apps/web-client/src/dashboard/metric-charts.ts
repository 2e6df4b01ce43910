import type { OperatorEvaluationRound, OperatorRound } from '@pollen/fl-core';
import uPlot from 'uplot';
import { type Baseline, baselinesOf } from './baselines.ts';
import { type FiveNumbers, fiveNumbers, metricNames } from './stats.ts';

const HEIGHT = 220;
const ACCENT = '#c77d00';
/** Baselines' lines: dashed, in greys a reader tells from the accent. */
const BASELINE_STROKES = ['#57606a', '#8c959f', '#24292f'];
const STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];
const roundAxis: uPlot.Axis = { label: 'round', incrs: STEPS };
const versionAxis: uPlot.Axis = { label: 'model version', incrs: STEPS };

/** A metric name as part of an element id: letters, digits, `_` and `-` only. */
export const metricId = (name: string): string => name.replace(/[^A-Za-z0-9_-]/g, '-');

interface MetricChart {
  readonly el: HTMLElement;
  readonly note: HTMLElement;
  readonly plot: uPlot;
  /**
   * 'heldout': the coordinator's held-out figure of each version; 'devices': the spread across
   * clients of the global model on their own held-out examples (task `evaluation`); 'clients':
   * the spread of the clients' training metrics after local training; 'federated': evaluation
   * rounds' example-weighted mean and spread across devices, by version (task `evaluation.federated`).
   */
  readonly kind: 'heldout' | 'devices' | 'clients' | 'federated';
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
 * A round's spread of one metric across its clients: for the global model on their held-out
 * examples, the one its record carries (`onDevices`); for their training values, computed here.
 */
function spreadOf(r: OperatorRound, kind: 'devices' | 'clients', name: string): FiveNumbers | null {
  if (kind === 'devices') return r.onDevices?.distribution[name] ?? null;
  return fiveNumbers(r.clientMetrics.flatMap((m) => m.metrics[name] ?? []));
}

/**
 * One chart per metric the task reports, twice: the held-out value of each committed version
 * by round, and the spread (minimum, quartiles, maximum) of the selected clients' training
 * values after local training; and, once clients report on their own held-out examples (task
 * `evaluation`), a third: the spread of the global model's value on them, before training,
 * which says how the model serves each client. Charts are added as new metric names appear; a
 * task without held-out data says so instead of drawing a figure.
 */
export class MetricCharts {
  private readonly charts: MetricChart[] = [];
  private readonly names = new Set<string>();
  private readonly deviceNames = new Set<string>();
  private readonly federatedNames = new Set<string>();
  private baselines: readonly Baseline[] = [];
  private rounds: readonly OperatorRound[] = [];
  private evaluations: readonly OperatorEvaluationRound[] = [];

  constructor(private readonly container: HTMLElement) {}

  /**
   * The task's own metrics (its spec's names: loss first), charted before any round reports
   * them, and the baselines its held-out data is scored against, drawn as flat lines.
   */
  declare(names: readonly string[], baselines: readonly Baseline[]): void {
    this.clear();
    this.baselines = baselines;
    for (const name of ['loss', ...names]) if (!this.names.has(name)) this.add(name);
    this.update(this.rounds, this.evaluations);
  }

  update(rounds: readonly OperatorRound[], evaluations: readonly OperatorEvaluationRound[] = []): void {
    this.rounds = rounds;
    this.evaluations = evaluations;
    // Evaluation rounds that counted (enough reports), one point per version scored.
    const federated = evaluations.flatMap((e) =>
      e.status === 'complete' && e.federatedEvaluation ? [e.federatedEvaluation] : [],
    );
    for (const f of federated) {
      for (const name of Object.keys(f.metrics)) {
        if (!this.federatedNames.has(name)) this.addFederated(name);
      }
    }
    for (const name of metricNames(rounds)) if (!this.names.has(name)) this.add(name);
    for (const r of rounds) {
      for (const name of Object.keys(r.onDevices?.distribution ?? {})) {
        if (!this.deviceNames.has(name)) this.addDevices(name);
      }
    }
    const committed = rounds.filter((r) => r.status === 'committed');
    const evaluated = committed.filter((r) => r.metrics !== null);
    for (const c of this.charts) {
      if (c.kind === 'heldout') {
        const rs = evaluated.filter((r) => r.metrics![c.name] !== undefined);
        // A baseline spans the rounds shown (at least the first round, so it shows before any).
        const xs = rs.length > 0 ? rs.map((r) => r.roundId) : [];
        const lines = baselinesOf(this.baselines, c.name).map((b) =>
          xs.length > 0 ? xs.map(() => b.value) : [],
        );
        c.plot.setData([xs, rs.map((r) => r.metrics![c.name]!), ...lines]);
        c.el.dataset.points = String(rs.length);
        // Evaluated without figures: held-out metrics attach after each commit, so a round not
        // evaluated yet (or skipped) does not mean the task has none.
        const none = committed.some((r) => r.evaluationMs !== undefined) && evaluated.length === 0;
        const against = baselinesOf(this.baselines, c.name)
          .map((b) => `${b.name} ${b.value.toPrecision(4)}`)
          .join(', ');
        c.note.textContent = none
          ? 'no held-out data'
          : `Held-out ${c.name} of each committed version${against ? `, against the baselines: ${against}` : ''}.`;
        c.el.dataset.heldOut = none ? 'none' : 'some';
      } else if (c.kind === 'federated') {
        const fs = federated.filter((f) => f.metrics[c.name] !== undefined);
        // Under secure aggregation only the mean exists: the spread's series stay empty there.
        const spread = fs.map((f) => f.distribution[c.name] ?? null);
        c.plot.setData([
          fs.map((f) => f.version),
          spread.map((s) => s?.min ?? null),
          spread.map((s) => s?.q1 ?? null),
          fs.map((f) => f.metrics[c.name]!),
          spread.map((s) => s?.q3 ?? null),
          spread.map((s) => s?.max ?? null),
          spread.map((s) => s?.worst10 ?? null),
        ]);
        c.el.dataset.points = String(fs.length);
        const last = fs.at(-1);
        if (last) c.el.dataset.last = String(last.metrics[c.name]);
      } else {
        const kind = c.kind;
        const rs = committed.flatMap((r) => {
          const spread = spreadOf(r, kind, c.name);
          return spread ? [{ id: r.roundId, spread }] : [];
        });
        const five = rs.map((r) => r.spread);
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
    this.deviceNames.clear();
    this.federatedNames.clear();
    this.baselines = [];
    this.rounds = [];
    this.evaluations = [];
    this.container.replaceChildren();
  }

  private add(name: string): void {
    this.names.add(name);
    const held = card(`Held-out ${name} per round`, `heldout-${metricId(name)}-chart`);
    const baselines = baselinesOf(this.baselines, name);
    const clients = card(`Training ${name} across clients`, `clients-${metricId(name)}-chart`);
    clients.note.textContent = `Per committed round: minimum, quartiles and maximum of the selected clients' ${name} on their training examples, after local training.`;
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
          ...baselines.map((b, i) => ({
            label: b.name,
            stroke: BASELINE_STROKES[i % BASELINE_STROKES.length]!,
            width: 1.5,
            dash: [6, 4],
            points: { show: false },
          })),
        ],
      },
      [[], [], ...baselines.map(() => [])],
      held.el,
    );
    held.el.dataset.baselines = baselines.map((b) => b.name).join(',');
    this.charts.push(
      { el: held.el, note: held.note, plot: heldPlot, kind: 'heldout', name },
      {
        el: clients.el,
        note: clients.note,
        plot: spreadPlot(clients.el, `training ${name}`),
        kind: 'clients',
        name,
      },
    );
  }

  /** Evaluation rounds' `name` across devices, by version, placed after the held-out chart of `name`. */
  private addFederated(name: string): void {
    this.federatedNames.add(name);
    const federated = card(
      `Federated ${name} across devices, by version`,
      `federated-${metricId(name)}-chart`,
    );
    federated.note.textContent = `Evaluation rounds: the example-weighted mean of ${name} over the devices that scored the version on their own held-out examples, its quartiles and extremes across them, and the mean of the worst 10% of devices (the mean alone under secure aggregation, which shows the coordinator totals only).`;
    const held = this.charts.find((c) => c.kind === 'heldout' && c.name === name);
    const after = held?.el.parentElement;
    if (after) after.after(federated.card);
    else this.container.append(federated.card);
    this.charts.push({
      el: federated.el,
      note: federated.note,
      plot: federatedPlot(federated.el, name),
      kind: 'federated',
      name,
    });
  }

  /** The spread across clients of the global model's `name` on their own held-out examples. */
  private addDevices(name: string): void {
    this.deviceNames.add(name);
    const devices = card(`Global model's ${name} across clients`, `devices-${metricId(name)}-chart`);
    devices.note.textContent = `Per committed round: minimum, quartiles and maximum of the global model's ${name} on each selected client's own held-out examples, before it trained.`;
    this.container.append(devices.card);
    this.charts.push({
      el: devices.el,
      note: devices.note,
      plot: spreadPlot(devices.el, `global ${name} on clients`),
      kind: 'devices',
      name,
    });
  }
}

/**
 * Evaluation rounds' `name` by version: the example-weighted mean across the devices that
 * reported, in bands of their quartiles and extremes, and the mean of the worst tenth of them.
 */
function federatedPlot(el: HTMLElement, name: string): uPlot {
  return bandsPlot(el, versionAxis, name, 'mean', [
    { label: 'worst 10%', stroke: BASELINE_STROKES[0]!, width: 1.5, dash: [6, 4] },
  ]);
}

/** A chart of a spread by round: the median line in bands of the quartiles and the extremes. */
function spreadPlot(el: HTMLElement, label: string): uPlot {
  return bandsPlot(el, roundAxis, label, 'median', []);
}

/**
 * A line (series 3, points shown) in bands: min to max (series 1 and 5) lightly filled, q1 to
 * q3 (series 2 and 4) more, and any `extra` series after them.
 */
function bandsPlot(
  el: HTMLElement,
  x: uPlot.Axis,
  label: string,
  middle: string,
  extra: readonly uPlot.Series[],
): uPlot {
  const band = (name: string, alpha: number): uPlot.Series => ({
    label: name,
    stroke: `rgba(199, 125, 0, ${alpha})`,
    width: 1,
  });
  return new uPlot(
    {
      width: el.clientWidth || 480,
      height: HEIGHT,
      scales: { x: { time: false } },
      axes: [x, { label }],
      bands: [
        { series: [5, 1], fill: 'rgba(199, 125, 0, 0.12)' },
        { series: [4, 2], fill: 'rgba(199, 125, 0, 0.3)' },
      ],
      series: [
        {},
        band('min', 0.4),
        band('q1', 0.6),
        { label: middle, stroke: ACCENT, width: 2, points: { show: true, size: 5 } },
        band('q3', 0.6),
        band('max', 0.4),
        ...extra,
      ],
    },
    [[], [], [], [], [], [], ...extra.map(() => [])],
    el,
  );
}
