import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

let ready: Promise<string> | undefined;

/**
 * tfjs outside a browser page (Node, without tfjs-node): the WASM backend when it loads, the
 * CPU backend otherwise. Resolves to the backend in use; later calls share the first.
 * The browser worker picks its own backend (WebGPU, WebGL, WASM, CPU) instead.
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
