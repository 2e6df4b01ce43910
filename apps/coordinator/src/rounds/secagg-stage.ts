import {
  type Backend,
  CIPHERTEXT_BYTES,
  type ClientMetrics,
  PollenError,
  packKeys,
  packShares,
  type RoundSecAgg,
  type SecAggLayout,
  type SecAggServer,
  type SecureAggregationSettings,
  SHARE_BYTES,
  unpackReveal,
  unpackShares,
} from '@pollen/fl-core';
import type { Clock } from '../clock.ts';
import type { PrivacyPlan } from './privacy.ts';
import { parseMaskedReport, type SecAggEvent } from './secagg-messages.ts';

/** What the round sends a client between stages. */
export type SecAggServerEvent = 'secagg:keys' | 'secagg:deliver' | 'secagg:request';

export interface SecAggRoundOptions {
  readonly taskId: string;
  readonly roundId: number;
  readonly baseVersion: number;
  /** The model's dimension. */
  readonly dimension: number;
  /** The cohort, in the order that gives each client its SecAgg index. */
  readonly selected: readonly string[];
  /** Masked inputs to wait for: the mask stage closes once this many arrived. */
  readonly target: number;
  /** Fewer masked inputs than this abandons the round before any share is requested. */
  readonly minReports: number;
  /** The mask stage closes at the round's deadline, this long after the start. */
  readonly deadlineMs: number;
  readonly settings: SecureAggregationSettings;
  readonly privacy?: PrivacyPlan | null;
  /** SCAFFOLD: Delta c_i travels in the masked vector after the update. */
  readonly scaffold?: boolean;
  /** FedNova: clients mask Delta_i / tau_i and tau_i (fl-core's secagg/layout.ts). */
  readonly fednova?: boolean;
  /** The round's shared coordinates (sorted), or null for dense updates. */
  readonly coordinates?: Uint32Array | null;
  /** Where each stage's close is logged (structured: stage, how many answered, how many left). */
  readonly log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** Send a stage message to a client, by client id (a client no longer connected is skipped). */
  readonly send: (clientId: string, event: SecAggServerEvent, payload: object) => void;
  /** Where the stage timers' time comes from (default: the system clock). */
  readonly clock?: Clock;
}

/** What a masked input's report says of its client, for the round's record. */
export interface StageReport {
  readonly backend: Backend;
  readonly metrics: ClientMetrics;
  readonly numExamples: number;
}

/**
 * A secure round's intake of one stage message (the counterpart of intake.ts for SecAgg+): the
 * stage's payload parsed and fed to fl-core's SecAggServer, which refuses a sender outside the
 * stage, a second message and a message out of stage. Returns the bytes it counts and, for a
 * masked input, its report. A refusal throws with a stable code and changes nothing.
 */
export function takeStageMessage(
  server: SecAggServer,
  event: SecAggEvent,
  from: number,
  body: Record<string, unknown>,
  round: { readonly roundId: number; readonly baseVersion: number },
): { readonly bytes: number; readonly report?: StageReport } {
  const n = server.params.n;
  switch (event) {
    case 'secagg:advertise':
      server.receiveAdvertise(from, { cPk: bytesOf(body.cPk), sPk: bytesOf(body.sPk) });
      return { bytes: 64 };
    case 'secagg:shares': {
      const { shares } = unpackShares(body, n);
      server.receiveShares(from, { shares });
      // Once accepted, every ciphertext is CIPHERTEXT_BYTES, plus its 4-byte recipient.
      return { bytes: shares.length * (4 + CIPHERTEXT_BYTES) };
    }
    case 'secagg:masked': {
      // The stage first: nothing of a masked input is looked at outside its stage.
      if (server.stage !== 'mask') {
        throw new PollenError('SECAGG_STAGE', `secure aggregation is at stage "${server.stage}", not "mask"`);
      }
      const report = parseMaskedReport(body, server.params.d);
      if (report.modelVersion !== round.baseVersion) {
        throw new PollenError('STALE_MODEL', `round ${round.roundId} trains version ${round.baseVersion}`);
      }
      server.receiveMaskedInput(from, { masked: new Uint8Array(report.masked) });
      const { backend, metrics, numExamples } = report;
      return { bytes: report.masked.byteLength, report: { backend, metrics, numExamples } };
    }
    case 'secagg:reveal': {
      const { selfMaskShares, keyShares } = unpackReveal(body, n);
      server.receiveUnmask(from, { selfMaskShares, keyShares });
      return { bytes: (selfMaskShares.length + keyShares.length) * (4 + SHARE_BYTES) };
    }
  }
}

/**
 * Close the stage the protocol is at and say what each client still in it gets next: the
 * neighbours' keys after advertise, the routed ciphertexts after share, the shares to reveal
 * after mask. Null at a stage with nothing to send.
 */
export function closeStageMessages(
  server: SecAggServer,
  round: { readonly taskId: string; readonly roundId: number },
): { readonly event: SecAggServerEvent; readonly messages: [number, object][] } | null {
  const { taskId, roundId } = round;
  switch (server.stage) {
    case 'advertise':
      return {
        event: 'secagg:keys',
        messages: [...server.closeAdvertise()].map(([id, m]) => [id, { taskId, roundId, ...packKeys(m) }]),
      };
    case 'share':
      return {
        event: 'secagg:deliver',
        messages: [...server.closeShares()].map(([id, m]) => [
          id,
          { taskId, roundId, ...packShares(m.shares) },
        ]),
      };
    case 'mask':
      return {
        event: 'secagg:request',
        messages: [...server.closeMaskedInput()].map(([id, m]) => [id, { taskId, roundId, ...m }]),
      };
    default:
      return null;
  }
}

/** Client `index`'s SecAgg block of round:start: the protocol's parameters and the vector's layout. */
export function startBlock(
  server: SecAggServer,
  layout: SecAggLayout,
  index: number,
  stageMs: number,
): RoundSecAgg {
  const { params } = server;
  const { coordinates } = layout;
  return {
    index,
    n: params.n,
    k: params.k,
    threshold: params.threshold,
    seed: params.seed.slice(),
    range: layout.range,
    bits: layout.bits,
    ...(coordinates ? { coordinates: new Uint8Array(coordinates.buffer.slice(0)) } : {}),
    control: layout.control,
    clipBit: layout.clipBit,
    ...(layout.steps ? { steps: true } : {}),
    words: params.d,
    stageMs,
  };
}

/**
 * Binary as a fresh Uint8Array (a Buffer from Socket.io, an ArrayBuffer); anything else is left
 * for fl-core's parsers to refuse.
 */
function bytesOf(value: unknown): unknown {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (value instanceof ArrayBuffer) return new Uint8Array(value.slice(0));
  return value;
}
