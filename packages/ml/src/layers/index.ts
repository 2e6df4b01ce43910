export type { LoraDenseArgs } from './lora.ts';
export { LoraDense, mergeLora, withLora } from './lora.ts';
export type { OneHotArgs } from './one-hot.ts';
export { OneHot } from './one-hot.ts';
