// The held-out evaluator's thread starts here: TypeScript is loaded through tsx, which a
// worker thread does not inherit from a `node --import tsx` parent on every Node version.
import { setPriority } from 'node:os';
import { register } from 'tsx/esm/api';

// Evaluation is background work (docs/design.md, "Evaluation off the commit path"): on Linux a
// thread has its own nice value (setpriority(2), NOTES), so this one yields the CPU to intake
// and commits on a busy machine. Elsewhere the call would renice the whole process: skipped.
if (process.platform === 'linux') {
  try {
    setPriority(10);
  } catch {
    // Not permitted (a sandbox): evaluate at the process's priority.
  }
}

register();
await import('./evaluate-thread.ts');
