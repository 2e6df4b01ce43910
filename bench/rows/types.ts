/** One line of the benchmark table: a figure, the baseline measured beside it, their ratio. */
export interface BenchRow {
  /** The suite this row belongs to (a section of the table). */
  readonly suite: string;
  /** What is measured, in words. */
  readonly name: string;
  /** The measured figure, or null when the row cannot run yet (see `waitsOn`). */
  readonly value: number | null;
  readonly unit: string;
  /** The baseline measured in the same run, and what it is. */
  readonly baseline: { readonly name: string; readonly value: number | null; readonly unit: string } | null;
  /** value compared with the baseline, in the direction `ratioMeaning` says. */
  readonly ratio: number | null;
  /** How to read the ratio, e.g. "x faster than the baseline". */
  readonly ratioMeaning: string;
  /** Repetitions the figure is the median of. */
  readonly runs: number;
  /** Other measured figures of the row (by name). */
  readonly extra?: Readonly<Record<string, number | string | null>>;
  /** Set when the row (or a column of it) waits on another issue. */
  readonly waitsOn?: { readonly issue: number; readonly why: string };
  readonly note?: string;
}

/** What every suite gets: sizes (tiny for the smoke test), repetitions, a progress log. */
export interface BenchContext {
  readonly tiny: boolean;
  /** Repetitions for figures that are medians. */
  readonly runs: number;
  log(line: string): void;
}

/** A group of rows measured together. */
export interface Suite {
  readonly id: string;
  readonly title: string;
  run(ctx: BenchContext): Promise<BenchRow[]>;
}
