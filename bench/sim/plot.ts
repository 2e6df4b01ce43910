import { formatMetricValues } from '@pollen/fl-core';
import type { SimReport } from './report.ts';

/** A point of a line chart. */
export interface Point {
  readonly x: number;
  readonly y: number;
}

const WIDTH = 560;
const HEIGHT = 320;
const PAD = { left: 56, right: 16, top: 32, bottom: 44 };

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** About five round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number): number[] {
  const span = hi - lo || 1;
  const raw = span / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Number(v.toPrecision(6)));
  return out;
}

/**
 * A self-contained SVG line chart (no script, no external asset), with axes, ticks and a
 * marker per point. The y axis spans [yMin, yMax] (default [0, 1], so accuracy curves of
 * different runs compare).
 */
export function lineChart(options: {
  title: string;
  xLabel: string;
  yLabel: string;
  points: readonly Point[];
  yMin?: number;
  yMax?: number;
  target?: number | null;
}): string {
  const { points } = options;
  const xs = points.map((p) => p.x);
  const xLo = Math.min(0, ...xs);
  const xHi = Math.max(1, ...xs);
  const yLo = Math.min(options.yMin ?? 0, ...points.map((p) => p.y));
  const yHi = Math.max(options.yMax ?? 1, ...points.map((p) => p.y));
  const w = WIDTH - PAD.left - PAD.right;
  const h = HEIGHT - PAD.top - PAD.bottom;
  const sx = (x: number): number => PAD.left + ((x - xLo) / (xHi - xLo || 1)) * w;
  const sy = (y: number): number => PAD.top + (1 - (y - yLo) / (yHi - yLo || 1)) * h;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeXml(options.title)}">`,
    `<text x="${WIDTH / 2}" y="18" text-anchor="middle" font-size="14" font-weight="600">${escapeXml(options.title)}</text>`,
  );
  for (const t of ticks(yLo, yHi)) {
    parts.push(
      `<line x1="${PAD.left}" x2="${PAD.left + w}" y1="${sy(t)}" y2="${sy(t)}" stroke="#e3e3e3"/>`,
      `<text x="${PAD.left - 6}" y="${sy(t) + 4}" text-anchor="end" font-size="11">${t}</text>`,
    );
  }
  for (const t of ticks(xLo, xHi)) {
    parts.push(
      `<line x1="${sx(t)}" x2="${sx(t)}" y1="${PAD.top + h}" y2="${PAD.top + h + 4}" stroke="#555"/>`,
      `<text x="${sx(t)}" y="${PAD.top + h + 17}" text-anchor="middle" font-size="11">${t}</text>`,
    );
  }
  parts.push(
    `<rect x="${PAD.left}" y="${PAD.top}" width="${w}" height="${h}" fill="none" stroke="#555"/>`,
    `<text x="${PAD.left + w / 2}" y="${HEIGHT - 8}" text-anchor="middle" font-size="12">${escapeXml(options.xLabel)}</text>`,
    `<text x="14" y="${PAD.top + h / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${PAD.top + h / 2})">${escapeXml(options.yLabel)}</text>`,
  );
  if (options.target !== undefined && options.target !== null && options.target >= yLo) {
    parts.push(
      `<line x1="${PAD.left}" x2="${PAD.left + w}" y1="${sy(options.target)}" y2="${sy(options.target)}" stroke="#c0392b" stroke-dasharray="4 3"/>`,
    );
  }
  if (points.length > 0) {
    const path = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`);
    parts.push(`<path d="${path.join(' ')}" fill="none" stroke="#2471a3" stroke-width="2"/>`);
    for (const p of points) {
      parts.push(
        `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="3" fill="#2471a3"><title>${p.x}: ${p.y.toFixed(4)}</title></circle>`,
      );
    }
  }
  parts.push('</svg>');
  return parts.join('\n');
}

/** The simulation's HTML page: accuracy against rounds and against time, and the round table. */
export function plotHtml(report: SimReport): string {
  // Accuracy where the task measures it (its curves compare across runs on [yMin, 1]), else loss.
  const name = report.rounds.some((r) => r.metrics?.accuracy !== undefined) ? 'accuracy' : 'loss';
  const committed = report.rounds.filter((r) => r.status === 'committed' && r.metrics?.[name] !== undefined);
  const value = (r: (typeof committed)[number]): number => r.metrics![name]!;
  const byRound = committed.map((r) => ({ x: r.version ?? r.round, y: value(r) }));
  const byTime = committed.map((r) => ({ x: Number(r.elapsedS.toFixed(1)), y: value(r) }));
  // Zoom on the committed rounds (the untrained model's figure is in the text above).
  const lowest = Math.min(1, ...committed.map(value));
  const yMin = name === 'accuracy' ? Math.max(0, Math.floor((lowest - 0.02) * 20) / 20) : 0;
  const target = name === 'accuracy' ? report.options.target : null;
  const s = report.summary;
  const rows = report.rounds
    .map(
      (r) =>
        `<tr><td>${r.round}</td><td>${r.status}</td><td>${r.selected}</td><td>${r.reported}</td><td>${r.dropped}</td>` +
        `<td>${escapeXml(formatMetricValues(r.metrics) ?? '')}</td>` +
        `<td>${(r.bytesUp / 1e6).toFixed(2)}</td><td>${(r.bytesDown / 1e6).toFixed(2)}</td><td>${r.wallS.toFixed(1)}</td>` +
        `<td>${r.epsilon ?? ''}</td></tr>`,
    )
    .join('\n');
  const o = report.options;
  const title = `Pollen simulation: ${o.clients} ${o.mode} clients, ${JSON.stringify(o.partition)}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222}figure{display:inline-block;margin:0 16px 16px 0}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}pre{background:#f6f6f6;padding:8px;white-space:pre-wrap}</style>
</head><body>
<h1>${escapeXml(title)}</h1>
<p>${escapeXml(report.command)} &middot; ${escapeXml(report.generatedAt)} &middot; ${report.machine.cpus} cores (${escapeXml(report.machine.cpuModel)}), Node ${escapeXml(report.machine.node)}</p>
<p>Held-out metrics of the untrained model: ${escapeXml(formatMetricValues(report.initialMetrics) ?? 'n/a')}; final <b>${escapeXml(formatMetricValues(s.metrics) ?? 'n/a')}</b> after ${s.committed} committed rounds (${s.abandoned} abandoned) in ${s.wallS.toFixed(1)} s (setup ${s.setupS.toFixed(1)} s); stopped: ${s.stopped}.</p>
<figure>${lineChart({ title: `Held-out ${name} by round`, xLabel: 'model version (committed rounds)', yLabel: name, points: byRound, yMin, target })}</figure>
<figure>${lineChart({ title: `Held-out ${name} over time`, xLabel: 'seconds since the first round started', yLabel: name, points: byTime, yMin, target })}</figure>
<h2>Rounds</h2>
<table><thead><tr><th>round</th><th>status</th><th>selected</th><th>reported</th><th>dropped</th><th>held-out</th><th>MB up</th><th>MB down</th><th>wall s</th><th>epsilon</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<h2>Summary</h2><pre>${escapeXml(JSON.stringify(s, null, 2))}</pre>
</body></html>
`;
}
