import { BACKENDS, type OperatorRound } from '@pollen/fl-core';
import uPlot from 'uplot';
import { denseBytes } from './stats.ts';

const HEIGHT = 220;
const COLORS = {
  accent: '#c77d00',
  good: '#1a7f37',
  bad: '#cf222e',
  blue: '#0969da',
  grey: '#8c959f',
  purple: '#8250df',
};
const BACKEND_COLORS: Record<string, string> = {
  webgpu: COLORS.purple,
  webgl: COLORS.blue,
  wasm: COLORS.accent,
  cpu: COLORS.grey,
};

/** A population sample: who was connected at a moment. */
export interface PopulationSample {
  readonly t: number;
  readonly total: number;
  readonly available: number;
  /** In an evaluation round at the time (task `evaluation.federated`). */
  readonly evaluating: number;
  readonly byBackend: Partial<Record<string, number>>;
}

/** What the charts draw. */
export interface ChartState {
  readonly rounds: readonly OperatorRound[];
  readonly population: readonly PopulationSample[];
  readonly dimension: number;
}

type Series = (number | null)[];

const bars = uPlot.paths.bars!({ size: [0.7, 28], align: 0 });

interface Chart {
  readonly el: HTMLElement;
  readonly plot: uPlot;
  data(state: ChartState): uPlot.AlignedData;
  /** Points drawn, kept on the element as `data-points` for people and tests. */
  points(state: ChartState): number;
}

function make(
  el: HTMLElement,
  options: Omit<uPlot.Options, 'width' | 'height'>,
  data: (state: ChartState) => uPlot.AlignedData,
  points: (state: ChartState) => number,
): Chart {
  const plot = new uPlot(
    { width: el.clientWidth || 480, height: HEIGHT, ...options },
    [[], ...options.series.slice(1).map(() => [])] as uPlot.AlignedData,
    el,
  );
  return { el, plot, data, points };
}

const closed = (s: ChartState): OperatorRound[] => s.rounds.filter((r) => r.status === 'committed');
const ids = (rs: readonly OperatorRound[]): number[] => rs.map((r) => r.roundId);
/** Rounds are whole numbers: no ticks between them. */
const roundAxis: uPlot.Axis = {
  label: 'round',
  incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000],
};
const line = (label: string, stroke: string, scale?: string): uPlot.Series => ({
  label,
  stroke,
  width: 2,
  points: { show: true, size: 5 },
  ...(scale ? { scale } : {}),
});

/** Every chart of the dashboard, keyed by the id of the element it lives in. */
export function createCharts(root: Document): { update(state: ChartState): void; resize(): void } {
  const el = (id: string): HTMLElement => root.getElementById(id)!;
  const charts: Chart[] = [
    make(
      el('population-chart'),
      {
        scales: { x: { time: true } },
        axes: [{}, { label: 'devices' }],
        series: [
          {},
          line('connected', COLORS.good),
          line('available', COLORS.grey),
          line('evaluating', COLORS.accent),
          ...BACKENDS.map((b) => ({ label: b, stroke: BACKEND_COLORS[b], width: 1, dash: [4, 3] })),
        ],
      },
      (s) => [
        s.population.map((p) => p.t / 1000),
        s.population.map((p) => p.total),
        s.population.map((p) => p.available),
        s.population.map((p) => p.evaluating),
        ...BACKENDS.map((b) => s.population.map((p) => p.byBackend[b] ?? 0)),
      ],
      (s) => s.population.length,
    ),
    make(
      el('timeline-chart'),
      {
        // Half a round of room on each side, so the first and last bars are whole.
        scales: {
          x: { time: false, range: (_u, min, max) => [min - 0.5, max + 0.5] },
          y: { range: (_u, _min, max) => [0, Math.max(1, max) + 0.5] },
        },
        axes: [roundAxis, { label: 'clients' }],
        series: [
          {},
          {
            label: 'selected (red: dropped)',
            fill: '#f3b8bb',
            stroke: COLORS.bad,
            paths: bars,
            points: { show: false },
          },
          { label: 'reported', fill: '#9fd8ad', stroke: COLORS.good, paths: bars, points: { show: false } },
          {
            label: 'deadline hit',
            stroke: COLORS.bad,
            paths: () => null,
            points: { show: true, size: 9, fill: COLORS.bad },
          },
        ],
      },
      (s) => [
        ids(s.rounds),
        s.rounds.map((r) => r.selected),
        s.rounds.map((r) => r.reported),
        s.rounds.map((r) => (r.deadlineHit ? r.selected + 0.5 : null)) as Series,
      ],
      (s) => s.rounds.length,
    ),
    make(
      el('time-chart'),
      {
        scales: { x: { time: true } },
        axes: [{}, { label: 'loss' }],
        series: [{}, line('held-out loss', COLORS.blue)],
      },
      (s) => {
        const rs = closed(s).filter((r) => r.endedAt !== null && r.metrics !== null);
        return [rs.map((r) => r.endedAt! / 1000), rs.map((r) => r.metrics!.loss ?? null)];
      },
      (s) => closed(s).filter((r) => r.metrics !== null).length,
    ),
    make(
      el('bytes-chart'),
      {
        scales: { x: { time: false }, ratio: { auto: true } },
        axes: [
          roundAxis,
          { label: 'KiB', size: 60 },
          { scale: 'ratio', side: 1, label: 'dense / sent', grid: { show: false } },
        ],
        series: [
          {},
          line('uploaded KiB', COLORS.good),
          line('downloaded KiB', COLORS.blue),
          { ...line('upload compression', COLORS.accent, 'ratio'), dash: [5, 4] },
          { ...line('download compression', COLORS.blue, 'ratio'), dash: [2, 3] },
        ],
      },
      (s) => {
        const rs = s.rounds.filter((r) => r.status !== 'open');
        return [
          ids(rs),
          rs.map((r) => r.bytesUp / 1024),
          rs.map((r) => r.bytesDown / 1024),
          rs.map((r) =>
            r.bytesUp > 0 ? (r.reported * denseBytes(s.dimension)) / r.bytesUp : null,
          ) as Series,
          // Each selected client is sent the model once: dense float32 over what went down.
          rs.map((r) =>
            r.bytesDown > 0 ? (r.selected * denseBytes(s.dimension)) / r.bytesDown : null,
          ) as Series,
        ];
      },
      (s) => s.rounds.filter((r) => r.status !== 'open').length,
    ),
  ];
  return {
    update(state) {
      for (const c of charts) {
        c.plot.setData(c.data(state));
        c.el.dataset.points = String(c.points(state));
      }
    },
    resize() {
      for (const c of charts) c.plot.setSize({ width: c.el.clientWidth, height: HEIGHT });
    },
  };
}
