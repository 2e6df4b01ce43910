import {
  BACKENDS,
  type Backend,
  type ClientMetrics,
  expectInt,
  expectObject,
  expectOneOf,
  expectString,
  PollenError,
  TASK_ID_PATTERN,
} from '@pollen/fl-core';
import { parseMetrics } from './messages.ts';

/**
 * Envelope checks of the `secagg:*` events a contributor sends, before anything reaches the
 * round: the task and round they name, and for a masked input its report's metadata and size.
 * The stage payloads themselves (keys, ciphertexts, shares) are checked field by field by
 * fl-core's SecAggServer, which also refuses a sender outside the stage (NOT_IN_ROUND), a
 * second message (REPLAY) and a message out of stage (SECAGG_STAGE).
 */

/** The events, in protocol order. */
export const SECAGG_EVENTS = ['secagg:advertise', 'secagg:shares', 'secagg:masked', 'secagg:reveal'] as const;
export type SecAggEvent = (typeof SECAGG_EVENTS)[number];

const MAX_ROUND = 0xffffffff;
const MAX_EXAMPLES = 10_000_000;

/** A checked envelope: which round, and the raw stage payload. */
export interface SecAggEnvelopeIn {
  readonly taskId: string;
  readonly roundId: number;
  readonly body: Record<string, unknown>;
}

/** Check any secagg event's envelope. */
export function parseSecAggEnvelope(event: SecAggEvent, input: unknown): SecAggEnvelopeIn {
  const body = expectObject(event, input, 'INVALID_MESSAGE');
  return {
    taskId: expectString('taskId', body.taskId, 63, TASK_ID_PATTERN, 'INVALID_MESSAGE'),
    roundId: expectInt('roundId', body.roundId, 1, MAX_ROUND, 'INVALID_MESSAGE'),
    body,
  };
}

/** A masked input's report: what a plain update says besides its vector. */
export interface MaskedReport {
  readonly modelVersion: number;
  readonly numExamples: number;
  readonly backend: Backend;
  readonly metrics: ClientMetrics;
  readonly masked: Uint8Array;
}

/**
 * Check a masked input's report, and that the vector is binary of exactly `words` uint32
 * words: larger is PAYLOAD_TOO_LARGE, otherwise SHAPE_MISMATCH, before any copy is made.
 */
export function parseMaskedReport(body: Record<string, unknown>, words: number): MaskedReport {
  const raw = body.masked;
  const masked = raw instanceof Uint8Array ? raw : raw instanceof ArrayBuffer ? new Uint8Array(raw) : null;
  if (!masked) throw new PollenError('INVALID_MESSAGE', '"masked" expected binary payload');
  if (masked.byteLength > 4 * words) {
    throw new PollenError(
      'PAYLOAD_TOO_LARGE',
      `masked input of ${masked.byteLength} bytes exceeds ${4 * words}`,
    );
  }
  if (masked.byteLength !== 4 * words) {
    throw new PollenError(
      'SHAPE_MISMATCH',
      `masked input expected ${4 * words} bytes, got ${masked.byteLength}`,
    );
  }
  return {
    modelVersion: expectInt('modelVersion', body.modelVersion, 0, MAX_ROUND, 'INVALID_MESSAGE'),
    numExamples: expectInt('numExamples', body.numExamples, 1, MAX_EXAMPLES, 'INVALID_MESSAGE'),
    backend: expectOneOf('backend', body.backend, BACKENDS, 'INVALID_MESSAGE'),
    metrics: parseMetrics(body),
    masked,
  };
}
