export type { PrivacySpent, RdpConversion, SubsampledGaussian } from './accountant.ts';
export {
  computeRdp,
  DEFAULT_ORDERS,
  epsilonFor,
  rdpOfSubsampledGaussian,
  rdpToEpsilon,
} from './accountant.ts';
export type { AdaptiveClipParams, ClipNormStep } from './adaptive-clip.ts';
export { adaptiveNoiseMultiplier, clipBit, defaultBitNoiseStd, nextClipNorm } from './adaptive-clip.ts';
export type { ClipResult } from './clip.ts';
export { clipToNorm } from './clip.ts';
export type { FtrlOptions } from './ftrl.ts';
export { FtrlServer } from './ftrl.ts';
export type { LedgerEntry, PrivacyLedgerJson, PrivacyLedgerOptions } from './ledger.ts';
export { PrivacyLedger } from './ledger.ts';
export type { DistributedNoiseParams, LocalNoiseParams } from './noise.ts';
export {
  addGaussianNoise,
  analyticGaussianSigma,
  classicGaussianSigma,
  distributedNoiseStd,
  localNoiseStd,
} from './noise.ts';
export type { RoundNoise } from './round.ts';
export {
  bitNoiseStdFor,
  checkPrivacyCompatibility,
  initialClipNorm,
  noisedNormBound,
  roundNoise,
} from './round.ts';
export type {
  AdaptiveClipSettings,
  ClipSettings,
  DistributedPrivacySettings,
  FtrlPrivacySettings,
  LocalPrivacySettings,
  NoPrivacySettings,
  PrivacyMode,
  PrivacySettings,
} from './settings.ts';
export { PRIVACY_MODES, validatePrivacySettings } from './settings.ts';
export type { TreeParticipation, TreeRun } from './tree-accountant.ts';
export {
  treeEpsilon,
  treeRho,
  treeSensitivitySquared,
  zcdpToEpsilon,
  zcdpToRdp,
} from './tree-accountant.ts';
export type { TreeState } from './tree-aggregation.ts';
export { TreeAggregator } from './tree-aggregation.ts';
export type { TreeLedgerJson, TreeLedgerParams } from './tree-ledger.ts';
export { TreeLedger, treeSegments } from './tree-ledger.ts';
