import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { BACKENDS, type Backend } from '@pollen/fl-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';

setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
});

export interface BackendChoice {
  readonly backend: Backend;
  readonly skipped: { backend: Backend; reason: string }[];
}

/** Why a backend cannot even be tried here, or null when it can. */
function unavailable(backend: Backend): string | null {
  const nav = globalThis.navigator as Navigator & { gpu?: unknown };
  if (backend === 'webgpu' && !nav?.gpu) return 'this browser exposes no WebGPU (navigator.gpu is missing)';
  if (backend === 'webgl' && typeof OffscreenCanvas === 'undefined') return 'no OffscreenCanvas in workers';
  if (backend === 'wasm' && typeof WebAssembly === 'undefined') return 'no WebAssembly';
  return null;
}

/** Run one small op so a backend that initialises but cannot compute is not chosen. */
async function smokeTest(): Promise<void> {
  const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
  const b = tf.matMul(a, a);
  const values = await b.data();
  tf.dispose([a, b]);
  if (values[0] !== 7) throw new Error(`a 2x2 product came out as ${values[0]}`);
}

/**
 * Pick the best backend that works, in the order WebGPU, WebGL, WASM, CPU, recording why
 * each better one was skipped. With `preferred`, only that one is tried (then CPU).
 */
export async function chooseBackend(preferred: Backend | null): Promise<BackendChoice> {
  const order: Backend[] = preferred ? [preferred, 'cpu'] : [...BACKENDS];
  const skipped: { backend: Backend; reason: string }[] = [];
  for (const backend of order) {
    const reason = unavailable(backend);
    if (reason) {
      skipped.push({ backend, reason });
      continue;
    }
    try {
      const ok = await tf.setBackend(backend);
      if (!ok) throw new Error('tfjs could not initialise it');
      await tf.ready();
      await smokeTest();
      return { backend, skipped };
    } catch (err) {
      skipped.push({ backend, reason: (err as Error).message || String(err) });
    }
  }
  throw new Error(
    `no tfjs backend works here: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}`,
  );
}
