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
  LocalPrivacySettings,
  NoPrivacySettings,
  PrivacyMode,
  PrivacySettings,
} from './settings.ts';
export { PRIVACY_MODES, validatePrivacySettings } from './settings.ts';
