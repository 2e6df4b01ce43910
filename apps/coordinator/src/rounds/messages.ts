import { checkUpload, decodeDense, type SparseVector, type UploadPlan } from '@pollen/compression';
import {
  BACKENDS,
  CLIENT_ID_PATTERN,
  type ClientMetrics,
  type EligibilityMessage,
  type EvaluationReportMessage,
  expectInRange,
  expectInt,
  expectObject,
  expectOneOf,
  expectSteps,
  expectString,
  firstNonFinite,
  type HelloMessage,
  type MetricSpec,
  type ModelRef,
  PollenError,
  PROTOCOL_VERSION,
  parseHeldOutReport,
  parseMetricValues,
  type RoundModelMessage,
  TASK_ID_PATTERN,
  type UpdateMessage,
  type UploadSlotMessage,
  type WithdrawMessage,
} from '@pollen/fl-core';

/**
 * Checks of every message a contributor sends, before any work is done for it. Each throws
 * a PollenError with INVALID_MESSAGE (or a more precise code) and a message that names the
 * offending field.
 */

export { CLIENT_ID_PATTERN };

const MAX_EXAMPLES = 10_000_000;
const MAX_ROUND = 0xffffffff;

export function parseHello(input: unknown): HelloMessage {
  const msg = expectObject('hello', input, 'INVALID_MESSAGE');
  const protocolVersion = expectInt('protocolVersion', msg.protocolVersion, 1, 1000, 'INVALID_MESSAGE');
  if (protocolVersion !== PROTOCOL_VERSION) {
    throw new PollenError(
      'INVALID_MESSAGE',
      `protocol version ${protocolVersion} is not ${PROTOCOL_VERSION}`,
    );
  }
  return {
    protocolVersion,
    clientId: expectString('clientId', msg.clientId, 64, CLIENT_ID_PATTERN, 'INVALID_MESSAGE'),
    taskId: expectString('taskId', msg.taskId, 63, TASK_ID_PATTERN, 'INVALID_MESSAGE'),
    backend: expectOneOf('backend', msg.backend, BACKENDS, 'INVALID_MESSAGE'),
    numExamples: expectInt('numExamples', msg.numExamples, 0, MAX_EXAMPLES, 'INVALID_MESSAGE'),
    eligible: typeof msg.eligible === 'boolean' ? msg.eligible : fail('eligible', msg.eligible),
    ...(msg.model === undefined ? {} : { model: parseModelRef(msg.model) }),
  };
}

const CHECKSUM = /^[0-9a-f]{64}$/;

/** The broadcast model a hello says the device holds (compressed downloads). */
function parseModelRef(input: unknown): ModelRef {
  const ref = expectObject('model', input, 'INVALID_MESSAGE');
  return {
    version: expectInt('model.version', ref.version, 0, MAX_ROUND, 'INVALID_MESSAGE'),
    checksum: expectString('model.checksum', ref.checksum, 64, CHECKSUM, 'INVALID_MESSAGE'),
  };
}

export function parseEligibility(input: unknown): EligibilityMessage {
  const msg = expectObject('eligibility', input, 'INVALID_MESSAGE');
  return {
    eligible: typeof msg.eligible === 'boolean' ? msg.eligible : fail('eligible', msg.eligible),
    numExamples: expectInt('numExamples', msg.numExamples, 0, MAX_EXAMPLES, 'INVALID_MESSAGE'),
  };
}

/** A report's named metrics (`loss` and the task's metrics) and its training time. */
export function parseMetrics(msg: Record<string, unknown>): ClientMetrics {
  return {
    metrics: parseMetricValues('metrics', msg.metrics, 'INVALID_MESSAGE'),
    trainMs: expectInRange('trainMs', msg.trainMs, 0, 86_400_000, 'INVALID_MESSAGE'),
  };
}

function binary(name: string, payload: unknown): Uint8Array {
  if (payload instanceof Uint8Array) return payload;
  if (payload instanceof ArrayBuffer) return new Uint8Array(payload);
  throw new PollenError('INVALID_MESSAGE', `"${name}" expected binary payload`);
}

/** A parsed update: the envelope checked, the frames still to decode against the round. */
export type ParsedUpdate = UpdateMessage & { update: Uint8Array; controlDelta?: Uint8Array };

/**
 * Check an update's envelope; the payload itself is checked against the round before decoding.
 * `maxPayloadBytes` bounds the update frame and SCAFFOLD's Delta c_i frame together.
 */
export function parseUpdate(
  input: unknown,
  maxPayloadBytes: number,
  /** The task's metrics, which a held-out report must carry exactly (besides the loss). */
  metrics: readonly MetricSpec[],
): ParsedUpdate {
  const msg = expectObject('update', input, 'INVALID_MESSAGE');
  const bytes = binary('update', msg.update);
  const control = msg.controlDelta === undefined ? undefined : binary('controlDelta', msg.controlDelta);
  const total = bytes.byteLength + (control?.byteLength ?? 0);
  if (total > maxPayloadBytes) {
    throw new PollenError('PAYLOAD_TOO_LARGE', `update of ${total} bytes exceeds ${maxPayloadBytes}`);
  }
  return {
    ...(control ? { controlDelta: control } : {}),
    ...(msg.clipBit === undefined ? {} : { clipBit: parseClipBit(msg.clipBit) }),
    ...(msg.steps === undefined ? {} : { steps: expectSteps('steps', msg.steps, 'INVALID_MESSAGE') }),
    ...(msg.heldOut === undefined ? {} : { heldOut: parseHeldOutReport('heldOut', msg.heldOut, metrics) }),
    taskId: expectString('taskId', msg.taskId, 63, TASK_ID_PATTERN, 'INVALID_MESSAGE'),
    roundId: expectInt('roundId', msg.roundId, 1, MAX_ROUND, 'INVALID_MESSAGE'),
    modelVersion: expectInt('modelVersion', msg.modelVersion, 0, MAX_ROUND, 'INVALID_MESSAGE'),
    numExamples: expectInt('numExamples', msg.numExamples, 1, MAX_EXAMPLES, 'INVALID_MESSAGE'),
    backend: expectOneOf('backend', msg.backend, BACKENDS, 'INVALID_MESSAGE'),
    ...parseMetrics(msg),
    update: bytes,
  };
}

/**
 * Decode SCAFFOLD's Delta c_i frame of an update for a round whose strategy has (or lacks)
 * SCAFFOLD: required and of the model's dimension and finite when it has, refused when it lacks.
 * Codes: INVALID_MESSAGE (missing or unexpected), BAD_FRAME, SHAPE_MISMATCH, NON_FINITE.
 */
export function decodeControlDelta(
  frame: Uint8Array | undefined,
  dimension: number,
  scaffold: boolean,
): Float32Array | null {
  if (!scaffold) {
    if (frame) throw new PollenError('INVALID_MESSAGE', '"controlDelta" is only sent for SCAFFOLD tasks');
    return null;
  }
  if (!frame) throw new PollenError('INVALID_MESSAGE', '"controlDelta" is required: the task uses SCAFFOLD');
  const { vector } = decodeDense(frame, { dimension });
  const bad = firstNonFinite(vector);
  if (bad >= 0) throw new PollenError('NON_FINITE', `"controlDelta" has a non-finite value at index ${bad}`);
  return vector;
}

/**
 * Decode an update frame as its round declared it: a dense frame of the task's codec when the
 * round does not compress, else exactly the round's codec, at most k values, indices sorted,
 * unique and in range (for a shared round, the round's own set), values finite. The size and
 * count are checked against the round's plan before anything is allocated. Returns the update,
 * sparse when it is, and its L2 norm, computed in O(k).
 * Codes: BAD_FRAME (malformed, another codec, other coordinates), SHAPE_MISMATCH (another
 * dimension), PAYLOAD_TOO_LARGE (more values or bytes than the round allows), NON_FINITE.
 */
export function decodeRoundUpload(
  frame: Uint8Array,
  plan: UploadPlan | null,
  dimension: number,
): { delta: Float32Array | SparseVector; norm: number } {
  // Decode, finiteness and norm in one pass, a dense f32 body read in place (intake.ts).
  return checkUpload(frame, plan, dimension);
}

function parseClipBit(value: unknown): 0 | 1 {
  if (value === 0 || value === 1) return value;
  const shown = typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value;
  throw new PollenError('INVALID_MESSAGE', `"clipBit" expected 0 or 1, got ${shown}`);
}

/**
 * Check adaptive clipping's bit of an update against its round: required when the round asked
 * for it, refused when it did not (INVALID_MESSAGE), so a count of bits is a count of reports.
 */
export function checkClipBit(bit: 0 | 1 | undefined, expected: boolean): 0 | 1 | undefined {
  if (expected && bit === undefined) {
    throw new PollenError('INVALID_MESSAGE', '"clipBit" is required: the round uses adaptive clipping');
  }
  if (!expected && bit !== undefined) {
    throw new PollenError('INVALID_MESSAGE', '"clipBit" is only sent in rounds with adaptive clipping');
  }
  return bit;
}

export function parseWithdraw(input: unknown): WithdrawMessage {
  const msg = expectObject('withdraw', input, 'INVALID_MESSAGE');
  return {
    taskId: expectString('taskId', msg.taskId, 63, TASK_ID_PATTERN, 'INVALID_MESSAGE'),
    roundId: expectInt('roundId', msg.roundId, 1, MAX_ROUND, 'INVALID_MESSAGE'),
    reason: typeof msg.reason === 'string' ? msg.reason.slice(0, 200) : 'unspecified',
  };
}

export function parseUploadSlot(input: unknown): UploadSlotMessage {
  const msg = expectObject('upload:slot', input, 'INVALID_MESSAGE');
  return {
    taskId: expectString('taskId', msg.taskId, 63, TASK_ID_PATTERN, 'INVALID_MESSAGE'),
    roundId: expectInt('roundId', msg.roundId, 1, MAX_ROUND, 'INVALID_MESSAGE'),
  };
}

/** `round:model`: the round whose whole model a client asks for. */
export function parseRoundModel(input: unknown): RoundModelMessage {
  const msg = expectObject('round:model', input, 'INVALID_MESSAGE');
  return {
    taskId: expectString('taskId', msg.taskId, 63, TASK_ID_PATTERN, 'INVALID_MESSAGE'),
    roundId: expectInt('roundId', msg.roundId, 1, MAX_ROUND, 'INVALID_MESSAGE'),
  };
}

/** An evaluation round's report: its envelope, and the held-out report checked against the task's metrics. */
export function parseEvaluationReport(
  input: unknown,
  metrics: readonly MetricSpec[],
): EvaluationReportMessage {
  const msg = expectObject('eval:report', input, 'INVALID_MESSAGE');
  return {
    taskId: expectString('taskId', msg.taskId, 63, TASK_ID_PATTERN, 'INVALID_MESSAGE'),
    evaluationId: expectInt('evaluationId', msg.evaluationId, 1, MAX_ROUND, 'INVALID_MESSAGE'),
    modelVersion: expectInt('modelVersion', msg.modelVersion, 0, MAX_ROUND, 'INVALID_MESSAGE'),
    heldOut: msg.heldOut === null ? null : parseHeldOutReport('heldOut', msg.heldOut, metrics),
  };
}

function fail(name: string, value: unknown): never {
  throw new PollenError('INVALID_MESSAGE', `"${name}" expected boolean, got ${typeof value}`);
}
