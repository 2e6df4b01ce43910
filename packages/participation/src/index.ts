/**
 * @pollen/participation: the contributor side of Pollen's protocol, one implementation for the
 * browser SDK, the coordinator's test harness and the Node simulation (docs/design.md,
 * "Participation").
 */
export type { FrozenBase } from './frozen-base.ts';
export {
  BASE_CHECKSUM_HEADER,
  basePath,
  baseVector,
  checkBase,
  downloadBase,
  sha256Hex,
} from './frozen-base.ts';
export type { CachedModel, ModelCache } from './model-download.ts';
export {
  checkedDenseModel,
  InMemoryModelCache,
  modelChecksum,
  parseDownload,
  rebuildModel,
} from './model-download.ts';
export type { ParticipantEvents, ParticipantOptions, Uploaded } from './participant.ts';
export { Participant, startBytes } from './participant.ts';
export type {
  AckSocket,
  DeviceMemory,
  EvaluateInput,
  Link,
  ReplyOf,
  RequestOf,
  SecureChannel,
  SecureRoundRef,
  Trainer,
  TrainInput,
  TrainOutput,
} from './ports.ts';
export { InMemoryDevice, sendUpload, socketLink } from './ports.ts';
export type { PrivateUpdate, RandomSource, UploadPrivacy } from './privacy.ts';
export { cryptoRng, privatize, uploadPrivacy } from './privacy.ts';
export type {
  SecureEvent,
  SecureRoundsPorts,
  SecureStage,
  SecureStep,
  StageSource,
} from './secure-rounds.ts';
export { inputParts, SecureRounds, SocketSecureChannel, sendStage } from './secure-rounds.ts';
export type { RoundUpload, UploadState } from './upload.ts';
export { encodeRoundUpload, packState, stateLength, unpackState } from './upload.ts';
