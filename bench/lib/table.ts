import type { BenchRow } from '../rows/types.ts';
import type { Machine } from './machine.ts';

function fmt(value: number | null, unit: string): string {
  if (value === null) return '-';
  const text = Math.abs(value) >= 1000 ? Math.round(value).toLocaleString('en') : String(value);
  return `${text} ${unit}`;
}

function duration(seconds: number): string {
  return seconds < 120 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`;
}

function notes(row: BenchRow): string {
  const parts: string[] = [];
  if (row.waitsOn) parts.push(`**waits on issue ${row.waitsOn.issue}**: ${row.waitsOn.why}`);
  for (const [key, value] of Object.entries(row.extra ?? {})) {
    if (value !== null) parts.push(`${key} ${value}`);
  }
  if (row.note) parts.push(row.note);
  return parts.join('; ').replaceAll('|', '\\|');
}

/** The results as a Markdown table (bench/README.md links the file). */
export function markdownTable(
  rows: readonly BenchRow[],
  meta: {
    date: string;
    machine: Machine;
    command: string;
    runs: number;
    durationS: number;
    loadAverage: { mean: number; max: number };
  },
): string {
  const m = meta.machine;
  const lines = [
    `Measured ${meta.date} with \`${meta.command}\` in ${duration(meta.durationS)} on ${m.cpus} cores ` +
      `(${m.cpuModel}), ${m.memoryGiB} GiB, GPU ${m.gpu}, Node ${m.node}` +
      `${m.chromium ? `, ${m.chromium}` : ''}; 1-minute load average ${meta.loadAverage.mean} on average, ` +
      `${meta.loadAverage.max} at most (other work shared the machine when it is above 2). Each figure is the median of ${meta.runs} runs unless the row says ` +
      'otherwise; each ratio is against the baseline measured in the same run.',
    '',
    '| suite | figure | value | baseline | ratio | notes |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const row of rows) {
    const baseline = row.baseline
      ? `${fmt(row.baseline.value, row.baseline.unit)} (${row.baseline.name})`
      : '-';
    const ratio = row.ratio === null ? '-' : `${row.ratio} ${row.ratioMeaning}`;
    lines.push(
      `| ${row.suite} | ${row.name.replaceAll('|', '\\|')} | ${fmt(row.value, row.unit)} | ${baseline.replaceAll('|', '\\|')} | ${ratio} | ${notes(row)} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}
