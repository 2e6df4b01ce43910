/** Stable codes for what the simulation and benchmark harness refuse or fail on. */
export type BenchErrorCode =
  | 'INVALID_OPTION'
  | 'COORDINATOR_FAILED'
  | 'BROWSER_FAILED'
  | 'TIMEOUT'
  | 'CLIENT_FAILED'
  | 'UNSUPPORTED';

/** The one error the harness throws on purpose; the CLI prints `message` and exits non-zero. */
export class BenchError extends Error {
  override readonly name = 'BenchError';
  readonly code: BenchErrorCode;

  constructor(code: BenchErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
