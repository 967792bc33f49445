/**
 * Test setup: registers the wasm and cpu backends and the gradients (tfjs-layers registers them in Node),
 * silences tfjs's console banner, and selects a backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';

// PROD silences tfjs's Node banner. Not IS_TEST: that turns on a per-kernel leak check which trips on
// wasm's own fusedMatMul (Dense + activation) in tfjs 4.22 — a tfjs bug, not ours.
tf.env().set('PROD', true);

export async function useBackend(name: 'wasm' | 'cpu'): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) throw new Error(`could not initialise the ${name} backend`);
}
