import { CodecError } from '@pollen/compression';
import { PollenError, type PollenErrorCode, toPollenError } from '@pollen/fl-core';

/** The one place that maps an error code to an HTTP status. */
export const HTTP_STATUS: Record<PollenErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  INVALID_TASK: 400,
  INVALID_MODEL: 400,
  INVALID_DATA: 400,
  INVALID_MESSAGE: 400,
  SHAPE_MISMATCH: 400,
  NON_FINITE: 400,
  NORM_TOO_LARGE: 400,
  BAD_FRAME: 400,
  PAYLOAD_TOO_LARGE: 413,
  NOT_IN_ROUND: 409,
  NO_UPLOAD_SLOT: 409,
  ROUND_CLOSED: 409,
  STALE_MODEL: 409,
  REPLAY: 409,
  DUPLICATE_CLIENT: 409,
  UNKNOWN_TASK: 404,
  NOT_FOUND: 404,
  // A version the retention policy dropped the weights of (docs/operating.md, "Retention").
  VERSION_PRUNED: 410,
  TASK_NOT_RUNNING: 409,
  UNAUTHORIZED: 401,
  IDENTITY_MISMATCH: 401,
  JOIN_TOKEN_REQUIRED: 401,
  JOIN_TOKEN_INVALID: 401,
  JOIN_TOKEN_EXPIRED: 401,
  JOIN_TOKEN_WRONG_TASK: 403,
  TOO_MANY_CONNECTIONS: 429,
  RATE_LIMITED: 429,
  SECAGG_ABORTED: 409,
  SECAGG_REFUSED: 409,
  SECAGG_STAGE: 409,
  LEASE_LOST: 409,
  INTERNAL: 500,
};

/** Any thrown value as a PollenError (codec errors keep their codes). */
export function asPollenError(err: unknown): PollenError {
  if (err instanceof CodecError) return new PollenError(err.code, err.message);
  return toPollenError(err);
}
