export type { OneHotArgs } from './one-hot.ts';
export { OneHot } from './one-hot.ts';
