import { fileURLToPath } from 'node:url';

/**
 * The coordinator package's folder. This module sits one level below it both as a source
 * (src/package-dir.ts) and once bundled (dist/*.js), so '..' is the package in either case.
 */
export const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

/** The built-in text data sets (written by `pnpm --filter @pollen/coordinator text-data`). */
export const TEXT_DATA_DIR = fileURLToPath(new URL('../data/', import.meta.url));

/** The built-in task files (`--task next-char`). */
export const TASKS_DIR = fileURLToPath(new URL('../tasks/', import.meta.url));
