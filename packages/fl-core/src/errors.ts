/**
 * Stable error codes. A code never changes meaning once released: clients, dashboards
 * and tests match on it, never on the message.
 */
export type PollenErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_TASK'
  | 'INVALID_MODEL'
  | 'INVALID_MESSAGE'
  | 'SHAPE_MISMATCH'
  | 'NON_FINITE'
  | 'PAYLOAD_TOO_LARGE'
  | 'BAD_FRAME'
  | 'NOT_IN_ROUND'
  | 'ROUND_CLOSED'
  | 'NO_UPLOAD_SLOT'
  | 'STALE_MODEL'
  | 'REPLAY'
  | 'NORM_TOO_LARGE'
  | 'DUPLICATE_CLIENT'
  | 'UNKNOWN_TASK'
  | 'TASK_NOT_RUNNING'
  | 'NOT_FOUND'
  | 'UNAUTHORIZED'
  | 'IDENTITY_MISMATCH'
  | 'JOIN_TOKEN_REQUIRED'
  | 'JOIN_TOKEN_INVALID'
  | 'JOIN_TOKEN_EXPIRED'
  | 'JOIN_TOKEN_WRONG_TASK'
  | 'TOO_MANY_CONNECTIONS'
  | 'RATE_LIMITED'
  | 'SECAGG_ABORTED'
  | 'SECAGG_REFUSED'
  | 'SECAGG_STAGE'
  | 'LEASE_LOST'
  | 'INVALID_DATA'
  | 'VERSION_PRUNED'
  | 'INTERNAL';

/** The one error class Pollen throws on purpose; `code` is stable, `message` is for people. */
export class PollenError extends Error {
  override readonly name = 'PollenError';
  readonly code: PollenErrorCode;

  constructor(code: PollenErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Narrow an unknown throw to a PollenError, wrapping anything else as INTERNAL. */
export function toPollenError(err: unknown): PollenError {
  if (err instanceof PollenError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new PollenError('INTERNAL', message);
}
