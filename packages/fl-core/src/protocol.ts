import type { CompressionBits, CompressionKind } from './compression.ts';
import type { PollenErrorCode } from './errors.ts';
import type { MetricValues } from './metric-values.ts';
import type { PrivacyMode } from './privacy/settings.ts';
import type { HeldOutReport, HeldOutSplit } from './task/evaluation.ts';
import type { TrainingSpec } from './task.ts';

/**
 * The typed Socket.io protocol between the coordinator and contributors, imported by both
 * apps: `Server<ClientToServerEvents, ServerToClientEvents>` and
 * `Socket<ServerToClientEvents, ClientToServerEvents>`.
 */

/**
 * 8: a round's `evaluation` carries `heldOutSplit` and `report: false`: a version-7 client would
 * split by hash, and in a round under privacy or secure aggregation send a refused report.
 * 7: compressed downloads (`HelloMessage.model`, `RoundStartMessage.download` and
 * `modelChecksum`, `round:model`): a version-6 client cannot read a round start without weights.
 * 6: evaluation rounds (`eval:start`, `eval:report`): a version-5 client would never answer one.
 * 5: uploads wait for a slot (`upload:slot`): a version-4 client's update is NO_UPLOAD_SLOT.
 * 4: secure aggregation (`RoundStartMessage.secagg` and the `secagg:*` events); a version-3
 * client would send a secure task's update in the clear.
 * 2: rounds carry the task's local strategy (FedProx, SCAFFOLD) and updates SCAFFOLD's Delta c_i.
 * 3: rounds carry the privacy block (clip norm, noise, clipping bit) and updates the clipping
 * bit; a version-2 client would send unclipped, un-noised updates to a private task.
 */
export const PROTOCOL_VERSION = 8;

/** Compute backends a contributor may train on, best first. */
export const BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type Backend = (typeof BACKENDS)[number];

/** Binary payloads arrive as Buffer (a Uint8Array) in Node and as ArrayBuffer in browsers. */
export type Binary = Uint8Array | ArrayBuffer;

/** View any binary payload as bytes without copying. */
export function toBytes(data: Binary): Uint8Array {
  return data instanceof Uint8Array ? data : new Uint8Array(data);
}

/** Every acknowledgement: success with data, or a stable error code. */
export type Ack<T extends object = Record<never, never>> =
  | ({ readonly ok: true } & T)
  | { readonly ok: false; readonly code: PollenErrorCode; readonly message: string };

/**
 * What a contributor presents in the Socket.io handshake (`io(url, { auth })`), checked before
 * any handler runs. A client id is bound to its secret the first time the coordinator sees it
 * (it keeps only a hash); a later connection with that id and another secret is refused with
 * IDENTITY_MISMATCH, so nobody can take a device's place by naming its id.
 */
export interface ContributorAuth {
  /** The device's id, random, kept in IndexedDB; `hello` must name the same one. */
  readonly clientId: string;
  /** The device's secret (32 random bytes, base64url), kept next to its id; never shown to anyone. */
  readonly secret: string;
  /** A join token for tasks that require one (`admission.joinToken`): a JWT whose audience is the task id. */
  readonly joinToken?: string;
}

/** A client id: 8..64 of A-Z a-z 0-9 _ -. */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;
/** A client secret: 22..128 of A-Z a-z 0-9 _ - (at least 128 bits as base64url). */
export const CLIENT_SECRET_PATTERN = /^[A-Za-z0-9_-]{22,128}$/;

export interface HelloMessage {
  readonly protocolVersion: number;
  readonly clientId: string;
  readonly taskId: string;
  readonly backend: Backend;
  readonly numExamples: number;
  /** Visible, or opted in to train in the background. */
  readonly eligible: boolean;
  /**
   * The broadcast model this device keeps from an earlier round of the task, if any: the
   * coordinator may then send it the differences since instead of the whole model.
   */
  readonly model?: ModelRef;
}

/** A broadcast model a device holds: its version and its checksum. */
export interface ModelRef {
  readonly version: number;
  /** SHA-256 of the model's float32 values (little endian), lower-case hex. */
  readonly checksum: string;
}

/**
 * A compressed download (task `compression.download.kind` "delta"): the delta frames that lead
 * from the broadcast model of version `from`, which the device said it holds, to the round's
 * (`applyModelDeltas` of @pollen/compression), one per version, in order.
 */
export interface ModelDownload {
  readonly from: number;
  readonly frames: readonly Binary[];
  /** SHA-256 of the model the frames lead to (as `ModelRef.checksum`). */
  readonly checksum: string;
}

/** `round:model`: a device whose rebuilt model did not check out asks for the round's whole model. */
export interface RoundModelMessage {
  readonly taskId: string;
  readonly roundId: number;
}

/** The answer to `round:model`: the round's model as a dense f32 frame, and its checksum. */
export interface RoundModelReply {
  readonly weights: Binary;
  readonly checksum: string;
}

export interface HelloReply {
  readonly taskId: string;
  readonly modelVersion: number;
  /** Where to fetch this client's demo shard (binary), relative to the coordinator. */
  readonly shardUrl: string;
  /**
   * The round this client id is still counted in: it came back within the grace period after
   * its connection broke. A client that is not training that round (a reload, another tab)
   * withdraws from it, so the round need not wait for its deadline.
   */
  readonly activeRound?: number | null;
}

export interface EligibilityMessage {
  readonly eligible: boolean;
  readonly numExamples: number;
}

/** What a selected client's local training does beyond plain FedAvg, for the task's strategy. */
export interface LocalStrategy {
  /**
   * FedProx's mu (Li et al. 2020): the local loss gains mu/2 * ||w - w_global||^2, which keeps
   * local models near the global one. 0: no proximal term.
   */
  readonly proximalMu: number;
  /**
   * SCAFFOLD (Karimireddy et al. 2020): every local SGD step is corrected by c - c_i, where c
   * comes with the round (`RoundStartMessage.control`) and c_i is kept on the device, and the
   * update carries Delta c_i (`UpdateMessage.controlDelta`).
   */
  readonly scaffold: boolean;
  /**
   * FedNova (Wang et al. 2020): the server normalizes by local steps, so the update must say
   * its `steps`; under secure aggregation the client masks Delta_i / steps and its steps
   * (`RoundSecAgg.steps`). Absent: false.
   */
  readonly fednova?: boolean;
}

/**
 * What a selected client must do to its update before sending it, for the task's privacy
 * settings: clip the whole delta to L2 norm `clipNorm`, add N(0, noiseStd^2) to every
 * coordinate, and send the clipping bit when `clipBit` is set.
 */
export interface RoundPrivacy {
  readonly mode: PrivacyMode;
  /** C for this round: fixed, or where adaptive clipping has moved it. */
  readonly clipNorm: number;
  /** Std of the Gaussian noise each client adds: z*C/sqrt(minReports) ('distributed'), from epsilonPerReport ('local'), 0 ('off'). */
  readonly noiseStd: number;
  /** Adaptive clipping: send `UpdateMessage.clipBit`, 1 when the update's norm was at or below C. */
  readonly clipBit: boolean;
  /** The delta of the task's guarantee; null in mode 'off'. */
  readonly delta: number | null;
  /** The task's epsilon before this round; null in mode 'off'. */
  readonly epsilonBefore: number | null;
  /** The task's epsilon once this round commits; null in mode 'off'. */
  readonly epsilonAfter: number | null;
}

/**
 * How a selected client compresses its upload this round (the task's compression settings
 * resolved for the round). No protocol version bump: a client that ignores it sends a dense
 * frame, which a compressed round refuses (BAD_FRAME), so nothing is silently mis-aggregated.
 */
export interface RoundCompression {
  readonly kind: CompressionKind;
  readonly bits: CompressionBits;
  /** Values the upload carries at most (exactly the set's size for 'shared'). */
  readonly k: number;
  /** Keep what was not sent (IndexedDB) and add it to the next update. */
  readonly errorFeedback: boolean;
  /**
   * 'shared': the round's coordinate set, sorted, as gap varints (encodeSortedIndices of
   * @pollen/compression), k of them. Upload values there, in that order.
   */
  readonly coordinates?: Binary;
  /** DGC's momentum correction factor m (the task's `compression.momentumCorrection`); absent: none. */
  readonly momentumCorrection?: number;
  /** DGC's local clipping bound of the delta before it is accumulated; absent: none. */
  readonly updateClipNorm?: number;
}

/** Which frozen base a fine-tuning round trains on (RoundStartMessage.base). */
export interface FrozenBaseRef {
  /** SHA-256 of the base's frame, lower-case hex. */
  readonly checksum: string;
  /** The frame's length in bytes. */
  readonly bytes: number;
}

export interface RoundStartMessage {
  readonly taskId: string;
  readonly roundId: number;
  readonly modelVersion: number;
  /** Epoch milliseconds after which the update is no longer accepted. */
  readonly deadline: number;
  readonly training: TrainingSpec;
  readonly codec: 'f32' | 'f16';
  /**
   * The global model as a dense frame (see @pollen/compression): the round's vector, only the
   * trainable weights when the task fine-tunes part of a pretrained model (`training.trainable`).
   * Absent exactly when `download` is present.
   */
  readonly weights?: Binary;
  /**
   * Instead of `weights`, under compressed downloads: the deltas from the model the device said
   * it holds (`HelloMessage.model`) to this round's.
   */
  readonly download?: ModelDownload;
  /**
   * Present when the task compresses downloads: the SHA-256 of the round's model (`weights` is
   * then a dense f32 frame of it). The device keeps the model under this checksum.
   */
  readonly modelChecksum?: string;
  /**
   * Present when the task fine-tunes part of a model: its frozen base, which never changes
   * during the task. Fetch it once per checksum (`GET /api/tasks/:id/base`, a dense f32 frame
   * whose SHA-256, hex, is `checksum`) and write it into the model's frozen weights.
   */
  readonly base?: FrozenBaseRef;
  /** The task's local strategy; the coordinator always sends it, absent reads as plain FedAvg. */
  readonly strategy?: LocalStrategy;
  /** SCAFFOLD's server control variate c as a dense frame; present exactly when `strategy.scaffold`. */
  readonly control?: Binary;
  /** Present when the task clips updates (with or without noise); absent: send the raw delta. */
  readonly privacy?: RoundPrivacy;
  /** Present when the task compresses uploads; absent: a dense frame of `codec`. */
  readonly compression?: RoundCompression;
  /**
   * Present when the round is securely aggregated: this client's place in the SecAgg+ round.
   * The client then sends no `update`; it runs the `secagg:*` stages instead.
   */
  readonly secagg?: RoundSecAgg;
  /**
   * Present when the task evaluates on the devices (`evaluation`): keep this share of the
   * examples apart and never train on it; `heldOutSplit` says which examples (absent: by a hash
   * of each key; fl-core's splitHeldOut). Unless `report` is false (rounds under differential
   * privacy or secure aggregation, which take no per-client reports), also report the global
   * model's metrics on them before training (`UpdateMessage.heldOut`).
   */
  readonly evaluation?: RoundEvaluation;
}

/** A round's held-out examples on the devices (`RoundStartMessage.evaluation`). */
export interface RoundEvaluation {
  readonly heldOutFraction: number;
  readonly heldOutSplit?: HeldOutSplit;
  /** False: keep the examples apart, report nothing on them. Absent: report. */
  readonly report?: false;
}

/** Whether a round asks its devices for the global model's metrics on their held-out examples. */
export function asksHeldOutReport(evaluation: RoundEvaluation | undefined): boolean {
  return evaluation !== undefined && evaluation.report !== false;
}

/**
 * A client's SecAgg+ parameters for one round (Bonawitz et al. 2017; Bell et al. 2020): its
 * index, the cohort size, neighbours and threshold, the round's public seed (32 bytes: the
 * ring and every derived key hang on it), and the layout of the masked vector (fl-core's
 * SecAggLayout): fixed-point range and bits, the shared coordinates, what follows the update.
 */
export interface RoundSecAgg {
  readonly index: number;
  readonly n: number;
  readonly k: number;
  readonly threshold: number;
  readonly seed: Binary;
  readonly range: number;
  readonly bits: number;
  /** The round's shared coordinates, sorted, as little-endian uint32 bytes; absent: dense. */
  readonly coordinates?: Binary;
  /** SCAFFOLD's Delta c_i follows the update in the masked vector. */
  readonly control: boolean;
  /** Adaptive clipping's bit ends the masked vector. */
  readonly clipBit: boolean;
  /** FedNova: the update is masked as Delta_i / steps and the step count follows the clip bit. */
  readonly steps?: boolean;
  /** Words of the masked vector. */
  readonly words: number;
  /** Each key stage and the unmask stage closes this long after it opened. */
  readonly stageMs: number;
}

/** Every `secagg:*` message names its round. */
export interface SecAggEnvelope {
  readonly taskId: string;
  readonly roundId: number;
}

/** Stage 0, client -> server: its two public keys (fl-core's AdvertiseMessage). */
export interface SecAggAdvertiseEvent extends SecAggEnvelope {
  readonly cPk: Binary;
  readonly sPk: Binary;
}

/**
 * Stage 0 -> 1, server -> client: its neighbours' keys (fl-core's KeysMessage in wire form:
 * ids, then cPk || sPk per neighbour in one binary; see secagg/wire.ts for why one).
 */
export interface SecAggKeysEvent extends SecAggEnvelope {
  readonly neighbours: readonly number[];
  readonly keys: Binary;
}

/**
 * Stage 1, client -> server (`peers` = recipients), and stage 1 -> 2, server -> client
 * (`peers` = senders): one ChaCha20-Poly1305 ciphertext of two shares per peer, concatenated.
 */
export interface SecAggSharesEvent extends SecAggEnvelope {
  readonly peers: readonly number[];
  readonly ciphertexts: Binary;
}

/** Stage 2, client -> server: the masked vector, little-endian uint32 words, and the report's metadata. */
export interface SecAggMaskedEvent extends SecAggEnvelope {
  readonly modelVersion: number;
  readonly numExamples: number;
  readonly backend: Backend;
  /** `loss` and the task's declared metrics on the client's own examples after training. */
  readonly metrics: MetricValues;
  /** Milliseconds of local training. */
  readonly trainMs: number;
  readonly masked: Binary;
}

/** Stage 2 -> 3, server -> client: which partners survived and which dropped (fl-core's UnmaskRequest). */
export interface SecAggRequestEvent extends SecAggEnvelope {
  readonly survivors: readonly number[];
  readonly dropped: readonly number[];
}

/** Stage 3, client -> server: the shares asked for (fl-core's UnmaskResponse), self-mask shares first. */
export interface SecAggRevealEvent extends SecAggEnvelope {
  readonly selfMaskPeers: readonly number[];
  readonly keyPeers: readonly number[];
  readonly shares: Binary;
}

/** A client's local training in a round, as the operator sees it: its named metrics and time. */
export interface ClientMetrics {
  /** `loss` and the task's metrics on the client's own examples after training. */
  readonly metrics: MetricValues;
  readonly trainMs: number;
}

export interface UpdateMessage {
  readonly taskId: string;
  readonly roundId: number;
  readonly modelVersion: number;
  readonly numExamples: number;
  readonly backend: Backend;
  /** `loss` and the task's declared metrics on the client's own examples after training. */
  readonly metrics: MetricValues;
  /** Milliseconds of local training. */
  readonly trainMs: number;
  /**
   * Local optimizer steps taken (mini-batches over all epochs): a positive integer up to
   * 10^7. Required when the round's strategy has `fednova`; reported by every current client.
   */
  readonly steps?: number;
  /** w_local - w_global as a frame: dense, or as the round's `compression` says. */
  readonly update: Binary;
  /**
   * SCAFFOLD's Delta c_i = c_i+ - c_i as a dense frame of the model's dimension: required when
   * the round's strategy has `scaffold`, refused otherwise.
   */
  readonly controlDelta?: Binary;
  /**
   * Adaptive clipping (Andrew et al. 2021): 1 when the update's L2 norm before clipping was at or
   * below the round's C, else 0. Required when the round's `privacy.clipBit` is set, refused otherwise.
   */
  readonly clipBit?: 0 | 1;
  /**
   * The global model's `loss` and the task's metrics on the client's held-out examples, before
   * local training, with their count: sent when the round's start had `evaluation` and the
   * client holds some held-out examples, refused otherwise.
   */
  readonly heldOut?: HeldOutReport;
}

export interface WithdrawMessage {
  readonly taskId: string;
  readonly roundId: number;
  readonly reason: string;
}

/**
 * A trained device asks for its turn to upload (flow control: the coordinator bounds the bytes
 * it receives at once); the answer comes when the turn has come, and then the device sends its
 * `update` or `secagg:masked` for that round.
 */
export interface UploadSlotMessage {
  readonly taskId: string;
  readonly roundId: number;
}

export interface UploadSlotReply {
  /** How long the coordinator counts the slot against its budget (the upload stays allowed after). */
  readonly grantMs: number;
}

export interface RoundEndMessage {
  readonly taskId: string;
  readonly roundId: number;
  readonly status: 'committed' | 'abandoned';
  readonly modelVersion: number;
}

/** Pace steering: this client was not selected; checking in again sooner is pointless. */
export interface RoundSkippedMessage {
  readonly taskId: string;
  readonly roundId: number;
  readonly retryAfterMs: number;
}

export interface ErrorMessage {
  readonly code: PollenErrorCode;
  readonly message: string;
}

/**
 * An evaluation round asks this idle device to score the global model on its held-out
 * examples (task `evaluation.federated`): it reports metrics only, no weights.
 */
export interface EvaluationStartMessage {
  readonly taskId: string;
  readonly evaluationId: number;
  readonly modelVersion: number;
  /** Epoch milliseconds by which the report must arrive. */
  readonly deadline: number;
  /** The global model as a dense frame, in the task's codec. */
  readonly weights: Binary;
  /** The share of the device's examples held out (the same split training rounds keep apart). */
  readonly heldOutFraction: number;
  /** Which examples are held out (absent: by a hash of each key), as in training rounds. */
  readonly heldOutSplit?: HeldOutSplit;
  /**
   * A task with secure aggregation: the device masks its report instead of sending it, and the
   * coordinator learns only the totals (docs/tasks.md, "Evaluation rounds"). The masked vector
   * holds, for each name of `metrics` in order, metric x held-out examples / `scale`, then the
   * held-out examples / `scale`; the SecAgg+ stages run under `roundId`.
   */
  readonly secure?: {
    readonly roundId: number;
    readonly scale: number;
    readonly metrics: readonly string[];
    readonly secagg: RoundSecAgg;
  };
}

export interface EvaluationReportMessage {
  readonly taskId: string;
  readonly evaluationId: number;
  readonly modelVersion: number;
  /** The global model's `loss` and the task's metrics on the held-out examples; null: the device holds none. */
  readonly heldOut: HeldOutReport | null;
}

export interface ClientToServerEvents {
  hello: (msg: HelloMessage, ack: (reply: Ack<HelloReply>) => void) => void;
  eligibility: (msg: EligibilityMessage, ack: (reply: Ack) => void) => void;
  update: (msg: UpdateMessage, ack: (reply: Ack<{ readonly roundId: number }>) => void) => void;
  withdraw: (msg: WithdrawMessage, ack: (reply: Ack) => void) => void;
  'upload:slot': (msg: UploadSlotMessage, ack: (reply: Ack<UploadSlotReply>) => void) => void;
  'round:model': (msg: RoundModelMessage, ack: (reply: Ack<RoundModelReply>) => void) => void;
  'secagg:advertise': (msg: SecAggAdvertiseEvent, ack: (reply: Ack) => void) => void;
  'secagg:shares': (msg: SecAggSharesEvent, ack: (reply: Ack) => void) => void;
  'secagg:masked': (msg: SecAggMaskedEvent, ack: (reply: Ack) => void) => void;
  'secagg:reveal': (msg: SecAggRevealEvent, ack: (reply: Ack) => void) => void;
  'eval:report': (msg: EvaluationReportMessage, ack: (reply: Ack) => void) => void;
}

export interface ServerToClientEvents {
  'round:start': (msg: RoundStartMessage) => void;
  'round:end': (msg: RoundEndMessage) => void;
  'round:skipped': (msg: RoundSkippedMessage) => void;
  'pollen:error': (msg: ErrorMessage) => void;
  'secagg:keys': (msg: SecAggKeysEvent) => void;
  'secagg:deliver': (msg: SecAggSharesEvent) => void;
  'secagg:request': (msg: SecAggRequestEvent) => void;
  'eval:start': (msg: EvaluationStartMessage) => void;
}
