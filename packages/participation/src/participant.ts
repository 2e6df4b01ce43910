import { decodeDense, encodeDense } from '@pollen/compression';
import {
  type Ack,
  asksHeldOutReport,
  type Backend,
  type Binary,
  type ClientMetrics,
  type EvaluationStartMessage,
  type HeldOutReport,
  type HelloMessage,
  type HelloReply,
  type ModelRef,
  normalizeBySteps,
  PollenError,
  PROTOCOL_VERSION,
  type Rng,
  type RoundEndMessage,
  type RoundStartMessage,
  secureEvaluationWords,
  toBytes,
} from '@pollen/fl-core';
import {
  type CachedModel,
  checkedDenseModel,
  type ModelCache,
  parseDownload,
  rebuildModel,
} from './model-download.ts';
import {
  type DeviceMemory,
  type Link,
  type SecureChannel,
  sendUpload,
  type Trainer,
  type TrainInput,
  type TrainOutput,
} from './ports.ts';
import { cryptoRng, privatize, type UploadPrivacy, uploadPrivacy } from './privacy.ts';
import { encodeRoundUpload, stateLength } from './upload.ts';

/**
 * The contributor side of the protocol, once for every client (docs/design.md, "Participation"):
 * what a device does from the hello to each round's end, with the connection, training, the
 * device's memory and secure aggregation behind ports (ports.ts). It keeps which rounds it is
 * in, trains each once (a round's start comes again after a reconnection), uploads what the
 * round asks (privacy, compression with error feedback, FedNova's steps, SCAFFOLD's Delta c_i,
 * or a masked input in a secure round), keeps c_i only once its round committed, and withdraws
 * from a round it cannot finish.
 */

/** An accepted upload, for the device's page or report. */
export interface Uploaded {
  readonly msg: RoundStartMessage;
  /** Bytes that left: the frame and Delta c_i, or the masked input's words. */
  readonly bytes: number;
  readonly numExamples: number;
  readonly metrics: ClientMetrics;
  readonly steps: number;
  /** What the round's privacy did to the update; null when the round does not clip. */
  readonly privacy: UploadPrivacy | null;
}

/** What participation tells the client around it; every hook is optional. */
export interface ParticipantEvents {
  /** Selected for a round, with the bytes its start message carried down. */
  selected?(msg: RoundStartMessage, bytesDown: number): void;
  /** The model rebuilt from the cache did not check out and the round's whole model came down (`round:model`). */
  refetched?(msg: RoundStartMessage, bytesDown: number): void;
  /** Training is done; the upload is being made. */
  uploading?(msg: RoundStartMessage): void;
  /** A plain update's frame is about to be sent. */
  sending?(msg: RoundStartMessage, frame: Uint8Array): void;
  /** The coordinator answered an update (or a masked input): accepted or refused. */
  answered?(msg: RoundStartMessage, ack: Ack, frame: Uint8Array | null): void;
  uploaded?(upload: Uploaded): void;
  /** Something failed on this side (not a refusal: that is `answered`); the device withdrew when it could. */
  error?(error: { readonly code: string; readonly message: string }): void;
  /** This device is done with the round (uploaded, refused, withdrew or left). */
  done?(msg: RoundStartMessage): void;
  /** An evaluation round's report was answered (null: the device held no held-out examples). */
  evaluated?(msg: EvaluationStartMessage, heldOut: HeldOutReport | null, ack: Ack, bytesDown: number): void;
}

export interface ParticipantOptions {
  readonly clientId: string;
  /** The connection now (null while there is none to send on). */
  readonly link: () => Link | null;
  /** The backend the device trains on now. */
  readonly backend: () => Backend;
  readonly trainer: Trainer;
  readonly memory: DeviceMemory;
  /** Where the task's last broadcast model is kept for compressed downloads; absent: none is kept. */
  readonly models?: ModelCache;
  /** Secure aggregation's client; null: this device cannot take part in secure rounds. */
  readonly secure: SecureChannel | null;
  /** Randomness for a round's noise and random-k (default: the CSPRNG; tests seed it). */
  readonly rng?: (msg: RoundStartMessage) => Rng;
  readonly events?: ParticipantEvents;
}

/** Bytes of a round's start message's binary parts: what a device downloads for the round. */
export function startBytes(msg: RoundStartMessage): number {
  const size = (b: Binary | undefined): number => (b ? toBytes(b).byteLength : 0);
  const frames = Array.isArray(msg.download?.frames) ? msg.download.frames : [];
  return (
    size(msg.weights) +
    frames.reduce((sum, f) => sum + size(f), 0) +
    size(msg.control) +
    size(msg.compression?.coordinates)
  );
}

const errorCode = (err: unknown): string =>
  typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'CLIENT_ERROR';

export class Participant {
  /** Rounds this device was selected for and has not heard the end of. */
  private readonly handling = new Set<number>();
  /** Rounds it is training or uploading right now. */
  private readonly inFlight = new Set<number>();
  /** Rounds it left (no longer eligible): their updates are not sent. */
  private readonly left = new Set<number>();
  /** SCAFFOLD: c_i+ of rounds this device reported in, kept once the round commits. */
  private readonly pendingControls = new Map<number, Float32Array>();

  constructor(private readonly options: ParticipantOptions) {}

  /** Whether a round is in hand (selected and not yet ended, or still training or uploading). */
  get busy(): boolean {
    return this.handling.size > 0 || this.inFlight.size > 0;
  }

  /**
   * The hello this device says on each connection, with the broadcast model it keeps
   * (`cachedModel`) so that the coordinator may send it deltas.
   */
  hello(taskId: string, numExamples: number, eligible: boolean, model: ModelRef | null = null): HelloMessage {
    return {
      protocolVersion: PROTOCOL_VERSION,
      clientId: this.options.clientId,
      taskId,
      backend: this.options.backend(),
      numExamples,
      eligible,
      ...(model ? { model: { version: model.version, checksum: model.checksum } } : {}),
    };
  }

  /** The task's broadcast model this device keeps, as its hello names it; null: none (or no cache). */
  async cachedModel(taskId: string): Promise<ModelRef | null> {
    try {
      const model = await this.options.models?.load(taskId);
      return model ? { version: model.version, checksum: model.checksum } : null;
    } catch (err) {
      this.fail(`could not read the kept model: ${(err as Error).message}`);
      return null;
    }
  }

  /**
   * The coordinator admitted the hello. Still counted in a round this device is not training
   * (a reload, the other tab of a closed one): leave it now rather than hold it to its deadline.
   */
  async admitted(reply: HelloReply): Promise<void> {
    const active = reply.activeRound;
    if (active == null || this.handling.has(active)) return;
    await this.withdraw(reply.taskId, active, 'this device is not training that round');
  }

  /** Stop sending for the rounds in flight: the device stopped being eligible and the coordinator took it out. */
  leaveRounds(): void {
    for (const roundId of this.inFlight) this.left.add(roundId);
  }

  /** Forget every round (the client stopped): their c_i+ must not be kept, nothing is sent for them. */
  reset(): void {
    this.leaveRounds();
    this.handling.clear();
    this.pendingControls.clear();
  }

  /** A round ended: keep c_i+ only if it committed (Karimireddy et al. 2020, Algorithm 1). */
  async roundEnd(msg: RoundEndMessage): Promise<void> {
    this.handling.delete(msg.roundId);
    this.options.secure?.end(msg.roundId);
    const ci = this.pendingControls.get(msg.roundId);
    this.pendingControls.delete(msg.roundId);
    if (!ci || msg.status !== 'committed') return;
    try {
      await this.options.memory.saveControl(msg.taskId, ci, msg.roundId);
    } catch (err) {
      this.fail(`could not keep SCAFFOLD state: ${(err as Error).message}`);
    }
  }

  /** Selected: train, upload, or withdraw saying why. A start already in hand is not trained twice. */
  async roundStart(msg: RoundStartMessage): Promise<void> {
    if (this.handling.has(msg.roundId)) return;
    // Rounds do not overlap for a device: one whose end it missed (a reconnection) is over too.
    for (const id of this.handling) if (id < msg.roundId) this.handling.delete(id);
    this.handling.add(msg.roundId);
    this.left.delete(msg.roundId);
    this.inFlight.add(msg.roundId);
    const events = this.options.events ?? {};
    events.selected?.(msg, startBytes(msg));
    try {
      if (msg.secagg) {
        if (!this.options.secure) throw new Error('this device cannot take part in secure rounds');
        this.options.secure.start(msg);
      }
      const out = await this.options.trainer.train(await this.trainInput(msg));
      if (!out || this.left.has(msg.roundId)) return;
      const link = this.options.link();
      if (!link) return;
      events.uploading?.(msg);
      await this.upload(link, msg, out);
    } catch (err) {
      this.options.events?.error?.({ code: errorCode(err), message: (err as Error).message });
      if (!this.left.has(msg.roundId)) await this.withdraw(msg.taskId, msg.roundId, (err as Error).message);
    } finally {
      this.inFlight.delete(msg.roundId);
      this.left.delete(msg.roundId);
      events.done?.(msg);
    }
  }

  /**
   * Asked to evaluate (an evaluation round, task `evaluation.federated`): score the global model
   * on the held-out examples and report the metrics, no weights. A device that cannot evaluate
   * or holds no held-out examples reports null, so the round does not wait for it.
   */
  async evaluationStart(msg: EvaluationStartMessage): Promise<void> {
    const events = this.options.events ?? {};
    const fail = (err: unknown, what: string): void =>
      events.error?.({ code: errorCode(err), message: `${what}: ${(err as Error).message}` });
    // A secure round's keys go out at once, as a training round's do: the stage does not wait.
    const secure = msg.secure ? this.secureEvaluation(msg, msg.secure) : null;
    if (msg.secure && !secure) {
      fail(new Error('this device cannot take part in secure rounds'), 'evaluation refused');
      return;
    }
    let heldOut: HeldOutReport | null = null;
    try {
      if (msg.weights === undefined)
        throw new PollenError('INVALID_MESSAGE', 'the evaluation carries no model');
      const weights = decodeDense(toBytes(msg.weights)).vector;
      heldOut = (await this.options.trainer.evaluate?.({ msg, weights })) ?? null;
    } catch (err) {
      fail(err, 'evaluation failed');
    }
    const link = this.options.link();
    if (!link?.connected) return;
    try {
      const ack = secure
        ? await secure(heldOut)
        : await link.request('eval:report', {
            taskId: msg.taskId,
            evaluationId: msg.evaluationId,
            modelVersion: msg.modelVersion,
            heldOut,
          });
      events.evaluated?.(msg, heldOut, ack, msg.weights ? toBytes(msg.weights).byteLength : 0);
    } catch (err) {
      fail(err, 'evaluation report failed');
    }
  }

  /**
   * A secure evaluation round: advertise now; the report then goes masked through SecAgg+
   * (fl-core's secureEvaluationWords), so the coordinator learns only the totals. The masked
   * input's report fields say nothing of this device (one example, loss 0): its figures are in
   * the mask. Null when this device has no secure channel.
   */
  private secureEvaluation(
    msg: EvaluationStartMessage,
    secure: NonNullable<EvaluationStartMessage['secure']>,
  ): ((heldOut: HeldOutReport | null) => Promise<Ack>) | null {
    const channel = this.options.secure;
    if (!channel) return null;
    const round = { taskId: msg.taskId, roundId: secure.roundId, secagg: secure.secagg };
    channel.start(round);
    return (heldOut) => {
      const words = secureEvaluationWords(heldOut, secure.metrics, secure.scale);
      const report = {
        modelVersion: msg.modelVersion,
        numExamples: 1,
        backend: this.options.backend(),
        metrics: { loss: 0 },
        trainMs: 0,
      };
      return channel.input(round, words, null, null, report, null);
    };
  }

  /**
   * The round's model: the dense weights as before; under compressed downloads rebuilt from the
   * kept model and the round's deltas, or checked against the round's checksum, then kept. A
   * model that does not check out is discarded and the whole one asked for (`round:model`).
   */
  private async roundModel(msg: RoundStartMessage): Promise<Float32Array> {
    if (msg.download === undefined && msg.modelChecksum === undefined) {
      if (msg.weights === undefined)
        throw new PollenError('INVALID_MESSAGE', 'the round start carries no model');
      return decodeDense(toBytes(msg.weights)).vector;
    }
    const { models } = this.options;
    let model: CachedModel;
    try {
      if (msg.download !== undefined) {
        const download = parseDownload(msg);
        model = await rebuildModel((await models?.load(msg.taskId)) ?? null, download);
      } else {
        if (typeof msg.modelChecksum !== 'string' || msg.weights === undefined) {
          throw new PollenError('INVALID_MESSAGE', '"modelChecksum" comes with dense "weights"');
        }
        model = await checkedDenseModel(msg.weights, msg.modelChecksum, msg.modelVersion);
      }
    } catch (err) {
      // A malformed message is the coordinator's bug, not the cache's: the round is refused.
      if ((err as { code?: unknown }).code === 'INVALID_MESSAGE') throw err;
      this.fail(`the kept model did not check out, asking for the whole one: ${(err as Error).message}`);
      await models?.clear(msg.taskId);
      model = await this.requestModel(msg);
    }
    try {
      await models?.save(msg.taskId, model);
    } catch (err) {
      this.fail(`could not keep the model: ${(err as Error).message}`);
    }
    // A copy: the trainer may take the buffer, and the kept model must stay usable.
    return model.weights.slice();
  }

  /** Ask for the round's whole model (`round:model`) and check it against its checksum. */
  private async requestModel(msg: RoundStartMessage): Promise<CachedModel> {
    const link = this.options.link();
    if (!link?.connected) throw new PollenError('ROUND_CLOSED', 'no connection to ask for the model on');
    const reply = await link.request('round:model', { taskId: msg.taskId, roundId: msg.roundId });
    if (!reply.ok) throw new PollenError(reply.code, reply.message);
    const expected = msg.download?.checksum ?? msg.modelChecksum;
    if (expected !== undefined && reply.checksum !== expected) {
      throw new PollenError(
        'BAD_FRAME',
        `round:model answered checksum ${reply.checksum}, expected ${expected}`,
      );
    }
    const model = await checkedDenseModel(reply.weights, reply.checksum, msg.modelVersion);
    this.options.events?.refetched?.(msg, toBytes(reply.weights).byteLength);
    return model;
  }

  private async trainInput(msg: RoundStartMessage): Promise<TrainInput> {
    const weights = await this.roundModel(msg);
    if (!msg.strategy?.scaffold) return { msg, weights, scaffold: null };
    if (!msg.control) throw new Error('the round uses SCAFFOLD but sent no control variate');
    const c = decodeDense(toBytes(msg.control), { dimension: weights.length }).vector;
    const ci = await this.options.memory.loadControl(msg.taskId, weights.length);
    // Copies: a trainer may take the buffers, and the kept c_i must stay usable.
    return { msg, weights, scaffold: { c: c.slice(), ci: ci?.slice() ?? null } };
  }

  private async upload(link: Link, msg: RoundStartMessage, out: TrainOutput): Promise<void> {
    const { memory, events = {} } = this.options;
    const rng = this.options.rng?.(msg) ?? cryptoRng();
    const errorFeedback = !msg.secagg && msg.compression?.errorFeedback === true;
    const residual = errorFeedback
      ? await memory.loadResidual(msg.taskId, stateLength(msg, out.delta.length))
      : null;
    // A secure round masks the privatized dense delta; any other round encodes its upload with
    // the round's privacy and compression (upload.ts).
    const secure = msg.secagg ? (msg.privacy ? privatize(out.delta, msg.privacy, rng) : null) : undefined;
    const encoded = msg.secagg ? null : encodeRoundUpload(out.delta, msg, residual, rng);
    const sent = secure === undefined ? (encoded?.privacy ?? null) : secure;
    const controlFrame =
      out.controlDelta && !msg.secagg
        ? encodeDense(out.controlDelta, msg.codec, { round: msg.roundId })
        : null;
    let ack: Ack;
    if (msg.secagg) {
      // FedNova under secure aggregation: mask Delta_i / steps and the steps (fl-core's layout.ts).
      const masked = secure?.update ?? out.delta;
      const input = msg.secagg.steps ? normalizeBySteps(masked, out.steps) : masked;
      const report = {
        modelVersion: msg.modelVersion,
        numExamples: out.numExamples,
        backend: this.options.backend(),
        ...out.metrics,
      };
      ack = await this.options.secure!.input(
        msg,
        input,
        out.controlDelta,
        sent?.clipBit ?? null,
        report,
        msg.secagg.steps ? out.steps : null,
      );
    } else {
      events.sending?.(msg, encoded!.frame);
      ack = await sendUpload(link, 'update', {
        taskId: msg.taskId,
        roundId: msg.roundId,
        modelVersion: msg.modelVersion,
        numExamples: out.numExamples,
        backend: this.options.backend(),
        ...out.metrics,
        steps: out.steps,
        update: encoded!.frame,
        ...(controlFrame ? { controlDelta: controlFrame } : {}),
        ...(sent?.clipBit !== undefined ? { clipBit: sent.clipBit } : {}),
        ...(out.heldOut && asksHeldOutReport(msg.evaluation) ? { heldOut: out.heldOut } : {}),
      });
    }
    events.answered?.(msg, ack, encoded?.frame ?? null);
    if (!ack.ok) return;
    if (out.clientControl) this.pendingControls.set(msg.roundId, out.clientControl);
    // What the accepted upload left out is carried to the next one.
    if (errorFeedback) await memory.saveResidual(msg.taskId, encoded!.residual, msg.roundId);
    events.uploaded?.({
      msg,
      bytes: msg.secagg ? 4 * msg.secagg.words : encoded!.frame.byteLength + (controlFrame?.byteLength ?? 0),
      numExamples: out.numExamples,
      metrics: out.metrics,
      steps: out.steps,
      privacy: msg.privacy && sent ? uploadPrivacy(msg.privacy, sent) : null,
    });
  }

  private async withdraw(taskId: string, roundId: number, reason: string): Promise<void> {
    const link = this.options.link();
    if (!link?.connected) return;
    try {
      // Refused only when the round is already over for this device: nothing left to do then.
      await link.request('withdraw', { taskId, roundId, reason });
    } catch {
      // The connection went while withdrawing: the coordinator's grace period ends the round for us.
    }
  }

  private fail(message: string): void {
    this.options.events?.error?.({ code: 'CLIENT_ERROR', message });
  }
}
