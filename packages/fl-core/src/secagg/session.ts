import { PollenError } from '../errors.ts';
import type { MetricValues } from '../metric-values.ts';
import type {
  Backend,
  RoundSecAgg,
  SecAggAdvertiseEvent,
  SecAggKeysEvent,
  SecAggMaskedEvent,
  SecAggRequestEvent,
  SecAggRevealEvent,
  SecAggSharesEvent,
} from '../protocol.ts';
import { expectInRange, expectInt, expectObject } from '../validate.ts';
import { SecAggClient } from './client.ts';
import { encodeSecAggInput, layoutWords, type SecAggInputParts, type SecAggLayout } from './layout.ts';
import { secAggParams } from './params.ts';
import type { RandomBytes } from './random.ts';
import { packReveal, packShares, unpackKeys, unpackShares, wireBytes } from './wire.ts';

/** What a masked input reports besides its vector (the fields of a plain update). */
export interface SecAggReport {
  readonly modelVersion: number;
  readonly numExamples: number;
  readonly backend: Backend;
  readonly metrics: MetricValues;
  readonly trainMs: number;
}

function bytes(name: string, value: unknown): Uint8Array {
  return new Uint8Array(wireBytes(name, value));
}

/**
 * One client's side of a secure round over the wire: the round's SecAgg block in, the
 * `secagg:*` payloads out, fl-core's SecAggClient in between. The browser's worker and the
 * coordinator's Node test client both run it, so both speak exactly the same protocol.
 * Payloads from the server arrive with binary as Uint8Array (Node) or ArrayBuffer (browsers).
 *
 * The masked input needs two things that come in either order: the delivery of the partners'
 * shares (end of stage 1) and the client's own update (end of training). `offerDelivery`
 * and `offerInput` each return the masked input once both are there, and null before.
 */
export class SecAggSession {
  readonly taskId: string;
  readonly roundId: number;
  readonly client: SecAggClient;
  #layout: SecAggLayout;
  #delivery: unknown = null;
  #input: { parts: SecAggInputParts; report: SecAggReport } | null = null;
  #masked = false;

  constructor(taskId: string, roundId: number, block: RoundSecAgg, randomBytes: RandomBytes) {
    const b = expectObject('secagg', block, 'INVALID_MESSAGE');
    this.taskId = taskId;
    this.roundId = roundId;
    const params = secAggParams({
      n: expectInt('secagg.n', b.n, 3, 1_000_000, 'INVALID_MESSAGE'),
      d: expectInt('secagg.words', b.words, 1, 2 ** 26, 'INVALID_MESSAGE'),
      k: expectInt('secagg.k', b.k, 2, 1_000_000, 'INVALID_MESSAGE'),
      threshold: expectInt('secagg.threshold', b.threshold, 2, 1_000_000, 'INVALID_MESSAGE'),
      seed: bytes('secagg.seed', b.seed),
    });
    let coordinates: Uint32Array | null = null;
    if (b.coordinates !== undefined) {
      const raw = bytes('secagg.coordinates', b.coordinates);
      if (raw.length % 4 !== 0)
        throw new PollenError('INVALID_MESSAGE', '"secagg.coordinates" expected uint32 words');
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      coordinates = Uint32Array.from({ length: raw.length / 4 }, (_, i) => view.getUint32(4 * i, true));
    }
    // The model's dimension is the client's to know; offerInput fills it in and checks it.
    this.#layout = {
      dimension: 0,
      coordinates,
      control: b.control === true,
      clipBit: b.clipBit === true,
      steps: b.steps === true,
      range: expectInRange('secagg.range', b.range, 1e-6, 1e6, 'INVALID_MESSAGE'),
      bits: expectInt('secagg.bits', b.bits, 2, 31, 'INVALID_MESSAGE'),
    };
    this.client = new SecAggClient(
      params,
      expectInt('secagg.index', b.index, 0, params.n - 1, 'INVALID_MESSAGE'),
      randomBytes,
    );
  }

  /** The masked vector's layout (its `dimension` is 0 until the input is offered). */
  get layout(): SecAggLayout {
    return this.#layout;
  }

  /** Stage 0: the keys to advertise. */
  advertise(): SecAggAdvertiseEvent {
    const { cPk, sPk } = this.client.advertise();
    return { taskId: this.taskId, roundId: this.roundId, cPk, sPk };
  }

  /** Stage 1: the neighbours' keys in, the encrypted shares out. */
  onKeys(msg: SecAggKeysEvent): SecAggSharesEvent {
    const m = expectObject('secagg:keys', msg, 'INVALID_MESSAGE');
    const { shares } = this.client.shareKeys(unpackKeys(m, this.client.params.n));
    return { taskId: this.taskId, roundId: this.roundId, ...packShares(shares) };
  }

  /** The partners' shares arrived (end of stage 1). */
  offerDelivery(msg: SecAggSharesEvent): SecAggMaskedEvent | null {
    const m = expectObject('secagg:deliver', msg, 'INVALID_MESSAGE');
    if (this.#delivery !== null) throw new PollenError('REPLAY', 'shares were already delivered');
    this.#delivery = unpackShares(m, this.client.params.n);
    return this.#maybeMask();
  }

  /**
   * The client's update is ready. `dimension` is the model's: the layout's word count must
   * match what the server announced, or the round is refused here (SHAPE_MISMATCH).
   */
  offerInput(dimension: number, parts: SecAggInputParts, report: SecAggReport): SecAggMaskedEvent | null {
    if (this.#input !== null) throw new PollenError('REPLAY', 'the input was already given');
    const layout = { ...this.#layout, dimension };
    if (layoutWords(layout) !== this.client.params.d) {
      throw new PollenError(
        'SHAPE_MISMATCH',
        `the round masks ${this.client.params.d} words, this update makes ${layoutWords(layout)}`,
      );
    }
    this.#layout = layout;
    this.#input = { parts, report };
    return this.#maybeMask();
  }

  #maybeMask(): SecAggMaskedEvent | null {
    if (this.#delivery === null || this.#input === null || this.#masked) return null;
    this.#masked = true;
    const input = encodeSecAggInput(this.#layout, this.#input.parts);
    const { masked } = this.client.maskInput(this.#delivery, input);
    input.fill(0);
    return {
      taskId: this.taskId,
      roundId: this.roundId,
      ...this.#input.report,
      masked: new Uint8Array(masked.buffer, masked.byteOffset, masked.byteLength),
    };
  }

  /** Stage 3: the server's request in, the revealed shares out (never both secrets of one partner). */
  onRequest(msg: SecAggRequestEvent): SecAggRevealEvent {
    const m = expectObject('secagg:request', msg, 'INVALID_MESSAGE');
    const reveal = this.client.unmask({ survivors: m.survivors, dropped: m.dropped });
    return { taskId: this.taskId, roundId: this.roundId, ...packReveal(reveal) };
  }

  /** Abandon the round and wipe the secrets. */
  abort(): void {
    this.client.abort();
  }
}
