import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Write a benchmark's results as indented JSON, creating the folder it goes in. */
export function writeResults(path: string, results: Record<string, unknown>): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
}

/**
 * Run a benchmark script when its module is the process's entry point (not when a test imports
 * it): `main` gets the arguments and returns the markdown table it prints; an error prints its
 * message and exits 1. With `--child`, the process is a worker of lib/child-jobs.ts and `child`
 * answers its parent instead.
 */
export function runAsScript(
  moduleUrl: string,
  main: (argv: string[]) => Promise<string>,
  child?: () => void,
): void {
  const entry = process.argv[1];
  if (entry === undefined || resolve(entry) !== fileURLToPath(moduleUrl)) return;
  if (child && process.argv.includes('--child')) {
    child();
    return;
  }
  main(process.argv.slice(2)).then(
    (markdown) => process.stdout.write(`${markdown}\n`),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
