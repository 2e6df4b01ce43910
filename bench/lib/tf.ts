import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

let ready: Promise<string> | undefined;

/**
 * tfjs in this Node process on the WASM backend (as the coordinator runs it), the CPU backend
 * when WASM does not load. Resolves to the backend in use.
 */
export function initTf(): Promise<string> {
  ready ??= (async () => {
    const ok = await tf.setBackend('wasm').catch(() => false);
    if (!ok) await tf.setBackend('cpu');
    await tf.ready();
    return tf.getBackend();
  })();
  return ready;
}
