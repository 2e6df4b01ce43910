// The held-out evaluator's thread starts here: TypeScript is loaded through tsx, which a
// worker thread does not inherit from a `node --import tsx` parent on every Node version.
import { register } from 'tsx/esm/api';

register();
await import('./evaluate-thread.ts');
