/**
 * Backends for the page: cpu, wasm and webgl are bundled; webgpu is loaded only when the browser hands
 * out a WebGPU adapter (headless Chromium with SwiftShader offers none). {@link startBackend} falls back
 * in the order webgpu → webgl → wasm → cpu and reports what actually runs and why.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's browser build registers no gradients (its Node build and @tensorflow/tfjs do): the race
// needs them for tf.variableGrads.
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { backends, type BackendName } from './settings.js';

setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
});
tf.env().set('PROD', true);

/** Whether the browser offers a WebGPU adapter. */
export async function webgpuAvailable(): Promise<boolean> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (gpu === undefined) return false;
  try {
    return (await gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

/** The WebGL renderer string (SwiftShader when the GPU is software), or null without WebGL 2. */
export function webglRenderer(): string | null {
  const gl = document.createElement('canvas').getContext('webgl2');
  if (gl === null) return null;
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  return String(ext === null ? gl.getParameter(gl.RENDERER) : gl.getParameter(ext.UNMASKED_RENDERER_WEBGL));
}

export interface BackendStatus {
  readonly requested: BackendName;
  readonly running: string;
  /** What the picker should offer (webgpu only with an adapter). */
  readonly available: BackendName[];
  /** Why the requested one is not running, or details (renderer, float32). */
  readonly note: string;
}

let webgpuLoaded = false;

async function tryBackend(name: BackendName): Promise<boolean> {
  try {
    if (name === 'webgpu') {
      if (!(await webgpuAvailable())) return false;
      if (!webgpuLoaded) {
        await import('@tensorflow/tfjs-backend-webgpu');
        webgpuLoaded = true;
      }
    }
    return (await tf.setBackend(name)) && tf.getBackend() === name;
  } catch {
    return false;
  }
}

/** Starts `requested`, else the next one that starts; never throws while cpu works. */
export async function startBackend(requested: BackendName): Promise<BackendStatus> {
  const gpu = await webgpuAvailable();
  const available = backends.filter((b) => b !== 'webgpu' || gpu);
  const order = [requested, ...backends.filter((b) => b !== requested)];
  for (const name of order) {
    if (name === 'webgpu' && !gpu) continue;
    if (await tryBackend(name)) {
      await tf.ready();
      let note = name === requested ? '' : `${requested} did not start; `;
      if (requested === 'webgpu' && !gpu) note = 'no WebGPU adapter in this browser; ';
      if (name === 'webgl') {
        const f32 = tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED');
        note += `renderer ${webglRenderer() ?? '?'}, ${f32 ? 'float32' : 'float16 (reduced precision)'} textures`;
      }
      if (name === 'wasm') note += 'WebAssembly (XNNPACK)';
      if (name === 'cpu') note += 'plain JavaScript';
      return { requested, running: name, available, note };
    }
  }
  throw new Error('no TensorFlow.js backend started (not even cpu)');
}
