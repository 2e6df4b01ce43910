import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Exit codes of `pnpm pollen`: stable, for scripts. */
export const EXIT = {
  ok: 0,
  /** The coordinator refused the request, or a local file failed the same checks it would. */
  refused: 1,
  /** A bad command line, or a file that cannot be read. */
  usage: 2,
  /** The coordinator could not be reached. */
  unreachable: 3,
} as const;

/** What a request may carry: text, bytes or a FormData (fetch's BodyInit). */
export type Body = NonNullable<RequestInit['body']>;

/** An error that ends the command with an exit code and a message for the operator. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Where `npm start` keeps the operator token it made, in the repository's .data directory. */
const DEFAULT_DATA_DIR = fileURLToPath(new URL('../../../../.data', import.meta.url));

/**
 * The operator token: `--token`, else POLLEN_TOKEN, else the token file the coordinator
 * writes in its data directory (POLLEN_DATA_DIR, default the repository's .data) on first start.
 */
export function operatorToken(flag: string | undefined, env: NodeJS.ProcessEnv): string | null {
  if (flag) return flag;
  if (env.POLLEN_TOKEN) return env.POLLEN_TOKEN;
  const file = join(env.POLLEN_DATA_DIR || DEFAULT_DATA_DIR, 'operator-token');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : null;
}

/** A coordinator's HTTP API, as an operator calls it. */
export class Coordinator {
  constructor(
    readonly url: string,
    private readonly token: string | null,
  ) {}

  /** Send a request; a refusal (`{ ok: false, code, message }`) becomes a CliError with its code. */
  async request(method: string, path: string, body?: Body, type?: string): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.url), {
        method,
        headers: {
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          ...(type ? { 'content-type': type } : {}),
        },
        ...(body === undefined ? {} : { body }),
      });
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
      throw new CliError(EXIT.unreachable, `cannot reach the coordinator at ${this.url}: ${cause}`);
    }
    if (res.ok) return res;
    const text = await res.text();
    let refusal: { code?: string; message?: string } = {};
    try {
      refusal = JSON.parse(text) as typeof refusal;
    } catch {
      // not Pollen's error shape: show the status
    }
    const hint = res.status === 401 ? ' (give --token, POLLEN_TOKEN or the operator-token file)' : '';
    throw new CliError(
      EXIT.refused,
      `${refusal.code ?? `HTTP ${res.status}`}: ${refusal.message ?? text.slice(0, 200)}${hint}`,
    );
  }

  async json<T>(method: string, path: string, body?: Body, type?: string): Promise<T> {
    return (await (await this.request(method, path, body, type)).json()) as T;
  }
}
