/**
 * The held-out evaluator thread's nice value on Linux (docs/design.md, "Evaluation off the
 * commit path"): evaluation is background work, so by default it yields the CPU to intake and
 * commits on a busy machine. `--evaluator-nice 0` runs it at the process's priority, for a
 * machine where something else (another program) keeps the CPU busy and an evaluation must
 * still finish soon. One thread serves every task of the process, so the setting is the
 * process's: the last coordinator built in the process sets it for a thread started after.
 */
export const DEFAULT_EVALUATOR_NICE = 10;

let nice = DEFAULT_EVALUATOR_NICE;

export function setEvaluatorNice(value: number): void {
  nice = value;
}

export function evaluatorNice(): number {
  return nice;
}
