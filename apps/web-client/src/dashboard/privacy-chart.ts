import type { OperatorRound, PrivacyMode } from '@pollen/fl-core';
import uPlot from 'uplot';

/** The task's privacy settings, as GET /api/tasks/:id returns them in its spec. */
export interface PrivacySpec {
  mode: PrivacyMode;
  epsilonBudget?: number;
  delta?: number;
}

const HEIGHT = 220;

/**
 * Epsilon spent over rounds, from the committed round records (each carries the task's epsilon
 * after it), with the budget as a flat line. A task without differential privacy shows a line
 * of text instead.
 */
export class EpsilonChart {
  private chart: uPlot | null = null;
  /** The y range: epsilon's, stretched to show the budget once half of it is spent. */
  private top = 1;

  constructor(
    private readonly el: HTMLElement,
    private readonly note: HTMLElement,
    private readonly tile: HTMLElement,
  ) {}

  draw(rounds: readonly OperatorRound[], spec: PrivacySpec | undefined): void {
    const points = rounds.filter((r) => r.status === 'committed' && r.privacy?.epsilon != null);
    const epsilon = points.at(-1)?.privacy?.epsilon ?? null;
    if (!spec || spec.mode === 'off') {
      this.note.textContent = 'This task trains without differential privacy: no epsilon is accounted.';
      this.tile.textContent = 'off';
      this.el.hidden = true;
      return;
    }
    const budget = spec.epsilonBudget ?? null;
    this.note.textContent = `Mode ${spec.mode}, delta = ${spec.delta}; the task stops selecting rounds before epsilon would pass its budget${budget === null ? '' : ` of ${budget}`}.`;
    this.tile.textContent = `${epsilon === null ? '0' : epsilon.toFixed(2)}${budget === null ? '' : ` / ${budget}`}`;
    this.el.dataset.points = String(points.length);
    this.el.hidden = false;
    const spent = Math.max(0, ...points.map((r) => r.privacy!.epsilon!));
    this.top = Math.max(spent * 1.15, budget !== null && budget <= 2 * spent ? budget * 1.05 : 0) || 1;
    const xs = points.map((r) => r.roundId);
    const data: uPlot.AlignedData = [
      xs,
      points.map((r) => r.privacy!.epsilon!),
      xs.map(() => budget ?? Number.NaN),
    ];
    if (this.chart) {
      this.chart.setData(data);
      return;
    }
    this.chart = new uPlot(
      {
        width: this.el.clientWidth || 600,
        height: HEIGHT,
        scales: {
          x: { time: false },
          y: { range: () => [0, this.top] },
        },
        // Rounds are whole numbers: no ticks between them.
        axes: [{ label: 'round', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }, { label: 'epsilon' }],
        series: [
          { label: 'round' },
          { label: 'epsilon spent', stroke: '#6b4fbb', width: 2, points: { show: true } },
          { label: 'budget', stroke: '#b03030', width: 1, dash: [6, 4], points: { show: false } },
        ],
      },
      data,
      this.el,
    );
    window.addEventListener('resize', () =>
      this.chart?.setSize({ width: this.el.clientWidth, height: HEIGHT }),
    );
  }
}
