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

/** Try each backend in order; the first that initialises and computes wins. */
async function firstWorking(order: readonly Backend[]): Promise<BackendChoice> {
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

/**
 * Pick the best backend that works, in the order WebGPU, WebGL, WASM, CPU, recording why
 * each better one was skipped. With `preferred`, only that one is tried (then CPU).
 */
export function chooseBackend(preferred: Backend | null): Promise<BackendChoice> {
  return firstWorking(preferred ? [preferred, 'cpu'] : BACKENDS);
}

/**
 * After `lost` failed (a lost GPU device, a training error that names it): drop it from
 * tfjs for good and take the best backend below it in the chain.
 */
export async function fallBackFrom(lost: Backend, reason: string): Promise<BackendChoice> {
  try {
    tf.removeBackend(lost);
  } catch {
    // A backend whose device is gone may fail to dispose; it is unregistered all the same.
  }
  const below = BACKENDS.slice(BACKENDS.indexOf(lost) + 1);
  const choice = await firstWorking(below);
  return { backend: choice.backend, skipped: [{ backend: lost, reason }, ...choice.skipped] };
}

/** Whether an error means the backend itself broke, rather than the data or the model. */
export function isBackendFailure(err: unknown, backend: Backend): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return new RegExp(`\\b${backend}\\b|device (is |was )?lost|context lost|GPU`, 'i').test(message);
}

/** Call `onLost` if the WebGPU device of the current backend is lost (driver reset, GPU removed). */
export function watchGpuDevice(onLost: (reason: string) => void): void {
  const device = (
    tf.backend() as unknown as { device?: { lost?: Promise<{ reason?: string; message?: string }> } }
  ).device;
  void device?.lost?.then((info) =>
    onLost(`the GPU device was lost (${info.reason || 'unknown'}: ${info.message || 'no detail'})`),
  );
}
