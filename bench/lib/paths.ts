import { resolve } from 'node:path';

/** The repository root, whatever the working directory. */
export const ROOT = resolve(import.meta.dirname, '../..');
/** Where `pnpm bench` writes latest.json and latest.md, and simulations their reports. */
export const RESULTS_DIR = resolve(ROOT, 'bench/results');
