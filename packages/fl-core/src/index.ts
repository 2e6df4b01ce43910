export type { PollenErrorCode } from './errors.ts';
export { PollenError, toPollenError } from './errors.ts';
export type { WeightedVector } from './fedavg.ts';
export { WeightedAccumulator, weightedAverage } from './fedavg.ts';
export { partition, partitionDirichlet, partitionIid, partitionPathological } from './partition.ts';
export type {
  Ack,
  Backend,
  Binary,
  ClientMetrics,
  ClientToServerEvents,
  EligibilityMessage,
  ErrorMessage,
  HelloMessage,
  HelloReply,
  RoundEndMessage,
  RoundStartMessage,
  ServerToClientEvents,
  UpdateMessage,
  WithdrawMessage,
} from './protocol.ts';
export { BACKENDS, PROTOCOL_VERSION, toBytes } from './protocol.ts';
export type { Rng } from './rng.ts';
export { gamma, gaussian, hashSeed, seededRng, shuffle } from './rng.ts';
export type {
  DatasetSpec,
  PartitionSpec,
  RoundSpec,
  TaskRecord,
  TaskSpec,
  TaskStatus,
  TrainingSpec,
} from './task.ts';
export { TASK_ID_PATTERN, validateTaskSpec } from './task.ts';
export {
  assertFinite,
  assertLength,
  expectInRange,
  expectInt,
  expectNonNegative,
  expectObject,
  expectOneOf,
  expectPositive,
  expectString,
  firstNonFinite,
} from './validate.ts';
export type { WeightEntry, WeightSpec } from './vector.ts';
export { add, axpy, flatten, l2norm, scale, shapeSize, specSize, subtract, unflatten } from './vector.ts';
export type {
  AdaptiveClipParams,
  AdaptiveClipSettings,
  ClipNormStep,
  ClipResult,
  ClipSettings,
  DistributedNoiseParams,
  DistributedPrivacySettings,
  LedgerEntry,
  LocalNoiseParams,
  LocalPrivacySettings,
  NoPrivacySettings,
  PrivacyLedgerJson,
  PrivacyLedgerOptions,
  PrivacyMode,
  PrivacySettings,
  PrivacySpent,
  RdpConversion,
  SubsampledGaussian,
} from './privacy/index.ts';
export {
  adaptiveNoiseMultiplier,
  addGaussianNoise,
  analyticGaussianSigma,
  classicGaussianSigma,
  clipBit,
  clipToNorm,
  computeRdp,
  DEFAULT_ORDERS,
  defaultBitNoiseStd,
  distributedNoiseStd,
  epsilonFor,
  localNoiseStd,
  nextClipNorm,
  PRIVACY_MODES,
  PrivacyLedger,
  rdpOfSubsampledGaussian,
  rdpToEpsilon,
  validatePrivacySettings,
} from './privacy/index.ts';
