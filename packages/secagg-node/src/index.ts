export { nativeSecAggCrypto } from './native-crypto.ts';
