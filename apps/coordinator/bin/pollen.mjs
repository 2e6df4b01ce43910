#!/usr/bin/env node
// `pnpm pollen ...`: the operator CLI (src/cli/main.ts), run from its TypeScript sources through
// tsx, a dependency of this package. Relative paths are taken from where pnpm was run.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  cwd: process.env.INIT_CWD || process.cwd(),
});
