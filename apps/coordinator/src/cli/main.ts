import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CliError, Coordinator, EXIT, operatorToken } from './http.ts';
import { createTask, exportTask, listTasks } from './task-commands.ts';

const USAGE = `Usage: pnpm pollen <command> [options]

Commands:
  task create --spec FILE [--held-out FILE]   create a task from a task file (docs/tasks.md);
                                              a model.json it names is uploaded with its weights
  task list [--json]                          the coordinator's tasks
  task export ID --out DIR [--version N]      the model as tfjs files: DIR/model.json, DIR/weights.bin

Options:
  --url URL      the coordinator (POLLEN_URL, default http://127.0.0.1:8080)
  --token T      the operator token (POLLEN_TOKEN, else the operator-token file in POLLEN_DATA_DIR or .data)
  --help         this text

Exit codes: 0 done, 1 refused (the coordinator's code and message are printed), 2 bad command
line or unreadable file, 3 coordinator unreachable.`;

/** Where the CLI writes, what it reads from its environment: the process's, or a test's. */
export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: NodeJS.ProcessEnv;
  /** Relative paths are relative to this (the directory `pnpm pollen` was run from). */
  readonly cwd: string;
}

const OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  spec: { type: 'string' },
  'held-out': { type: 'string' },
  out: { type: 'string' },
  version: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

function usage(message: string): CliError {
  return new CliError(EXIT.usage, `${message}\n\n${USAGE}`);
}

async function run(argv: readonly string[], io: CliIo): Promise<void> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw usage((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    io.out(USAGE);
    return;
  }
  const [group, command, ...rest] = positionals;
  if (group !== 'task' || !command) throw usage(`unknown command "${positionals.join(' ')}"`);
  const url = values.url ?? io.env.POLLEN_URL ?? 'http://127.0.0.1:8080';
  try {
    new URL(url);
  } catch {
    throw usage(`--url ${url} is not a URL`);
  }
  const api = new Coordinator(url, operatorToken(values.token, io.env));
  const path = (p: string): string => resolve(io.cwd, p);
  switch (command) {
    case 'create': {
      if (!values.spec || rest.length > 0) throw usage('task create takes --spec FILE [--held-out FILE]');
      const heldOut = values['held-out'];
      return createTask(api, path(values.spec), heldOut === undefined ? undefined : path(heldOut), io.out);
    }
    case 'list':
      if (rest.length > 0) throw usage('task list takes no arguments');
      return listTasks(api, values.json === true, io.out);
    case 'export': {
      const [id, ...extra] = rest;
      if (!id || extra.length > 0 || !values.out) throw usage('task export takes ID --out DIR [--version N]');
      const version = values.version === undefined ? undefined : Number(values.version);
      if (version !== undefined && !(Number.isInteger(version) && version >= 0)) {
        throw usage(`--version expected a version number, got ${values.version}`);
      }
      return exportTask(api, id, path(values.out), version, io.out);
    }
    default:
      throw usage(`unknown command "task ${command}"`);
  }
}

/** Run `pollen ARGS`; returns the exit code (EXIT). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    await run(argv, io);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CliError) {
      io.err(`pollen: ${err.message}`);
      return err.exitCode;
    }
    io.err(`pollen: ${(err as Error).stack ?? String(err)}`);
    return EXIT.refused;
  }
}
