import { prepareMnistCache } from './mnist-cache.ts';

/** Vitest's global setup: one MNIST cache for the whole run (see mnist-cache.ts). */
export default function setup(): () => void {
  return prepareMnistCache();
}
