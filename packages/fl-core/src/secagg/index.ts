export type { SecAggStage } from './client.ts';
export { SecAggClient } from './client.ts';
export type { SecAggCrypto } from './crypto.ts';
export { nobleSecAggCrypto } from './crypto.ts';
export { NeighbourGraph } from './graph.ts';
export type { KeyPair } from './keys.ts';
export {
  agree,
  generateKeyPair,
  KEY_BYTES,
  openShares,
  pairMaskSeed,
  pairShareKey,
  publicKeyOf,
  sealShares,
  TAG_BYTES,
} from './keys.ts';
export type { SecAggInputParts, SecAggLayout, SecAggSum } from './layout.ts';
export { decodeSecAggSum, encodeSecAggInput, layoutWords } from './layout.ts';
export type {
  AdvertiseMessage,
  DeliveryMessage,
  EncryptedShares,
  KeysMessage,
  MaskedInputMessage,
  NeighbourKeys,
  RevealedShare,
  SharesMessage,
  UnmaskRequest,
  UnmaskResponse,
} from './messages.ts';
export {
  CIPHERTEXT_BYTES,
  parseAdvertise,
  parseDelivery,
  parseKeys,
  parseMaskedInput,
  parseShares,
  parseUnmaskRequest,
  parseUnmaskResponse,
  SHARES_PLAINTEXT_BYTES,
} from './messages.ts';
export type { SecAggParams, SecAggParamsInput } from './params.ts';
export {
  defaultSecAggNeighbours,
  defaultSecAggThreshold,
  MAX_CLIENTS,
  MAX_DIMENSION,
  secAggParams,
} from './params.ts';
export { addMask, expandMask, MASK_NONCE, SEED_BYTES } from './prg.ts';
export type { RandomBytes } from './random.ts';
export { chachaRandomBytes, takeBytes } from './random.ts';
export type { SecAggResult } from './server.ts';
export { SecAggServer } from './server.ts';
export type { SecAggReport } from './session.ts';
export { SecAggSession } from './session.ts';
export type { SecureAggregationSettings } from './settings.ts';
export { fixedPointBits, roundNeighbourhood, validateSecureAggregation } from './settings.ts';
export type { ShamirShare } from './shamir.ts';
export {
  decodeShareValue,
  SECRET_BYTES,
  SHAMIR_PRIME,
  SHARE_BYTES,
  shamirCombine,
  shamirSplit,
} from './shamir.ts';
export type { SecAggDropouts, SecAggSimulation, SecAggSimulationResult } from './simulate.ts';
export { simulateSecAgg } from './simulate.ts';
export type { WireKeys, WireReveal, WireShares } from './wire.ts';
export {
  packKeys,
  packReveal,
  packShares,
  unpackKeys,
  unpackReveal,
  unpackShares,
  wireBytes,
} from './wire.ts';
