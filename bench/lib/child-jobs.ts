import { fork } from 'node:child_process';

/**
 * Independent federations (a table's rows) run side by side in child processes of the same
 * script, each its own tfjs, one job at a time per child; with `parallel` 1 they run here in
 * turn. The script hands its jobs to `runJobs` and, started with `--child`, answers one job
 * with `answerJob`.
 */
export async function runJobs<J, R>(options: {
  /** The script's own path: children run it with `--child`. */
  readonly script: string;
  readonly jobs: readonly J[];
  readonly parallel: number;
  /** Runs one job in this process (also what a child runs). */
  readonly run: (job: J) => Promise<R>;
  /** How a failed child's job is named in its error (`row "dense f32"`). */
  readonly label: (job: J) => string;
}): Promise<R[]> {
  const { jobs, parallel } = options;
  const results: R[] = new Array(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const index = next++;
      const job = jobs[index]!;
      results[index] =
        parallel <= 1 ? await options.run(job) : await inChild(options.script, job, options.label);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, jobs.length) }, worker));
  return results;
}

function inChild<J, R>(script: string, job: J, label: (job: J) => string): Promise<R> {
  return new Promise<R>((done, reject) => {
    const child = fork(script, ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('message', (msg: { result?: R; error?: string }) => {
      if (msg.result) done(msg.result);
      else reject(new Error(msg.error ?? 'child failed'));
    });
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`${label(job)} exited with ${code}`));
    });
    child.send(job as object);
  });
}

/** In a child started by `runJobs`: run the one job the parent sends, send back its result, exit. */
export function answerJob<J, R>(run: (job: J) => Promise<R>): void {
  process.once('message', (job: J) => {
    run(job).then(
      (result) => process.send!({ result }, () => process.exit(0)),
      (err: unknown) => process.send!({ error: (err as Error).stack ?? String(err) }, () => process.exit(1)),
    );
  });
}
