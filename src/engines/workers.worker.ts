/**
 * The worker thread of the `workers` engine (`./workers.ts`): TensorFlow.js on its own wasm backend,
 * running its rank's share of the matrices of one engine call — `runShare` of `./workersShare.ts`, the
 * code the calling thread runs for its own share (the algorithm is described there).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { SharedCollective, serveSync } from './bridge.js';
import { PROFILE_PHASES } from './workers.js';
import { runShare, type WorkersCall } from './workersShare.js';

export type { WorkersCall, WorkersTask } from './workersShare.js';

let backend: Promise<void> | undefined;

function wasmBackend(): Promise<void> {
  backend ??= (async () => {
    tf.env().set('PROD', true); // no Node banner
    if (!(await tf.setBackend('wasm'))) throw new Error('could not initialise the TensorFlow.js wasm backend in the worker');
  })();
  return backend;
}

/** The collective of the call in progress: aborted if this thread exits during it (see below). */
let active: SharedCollective | undefined;
// A thread that exits mid-call (process.exit in a handler, a fatal error) releases the ranks waiting for
// it in a barrier at once; the calling thread then reports this thread's exit, by name.
process.on('exit', () => active?.abort());

serveSync({
  /**
   * Runs this rank's tasks; answers a receipt `[number of tasks written back]` (the calling thread checks
   * it: results are written in place, so an answer without it must not be taken for one), then the
   * per-phase times when profiling.
   */
  async newtonSchulz(_inputs: Float32Array[], call: WorkersCall): Promise<Float32Array[]> {
    // watched from the start: an exit while the backend loads releases the other ranks as well
    active = call.collective === undefined ? undefined : new SharedCollective(call.collective, call.rank, call.timeoutMs);
    try {
      await wasmBackend();
    } catch (e) {
      active?.abort(); // the other ranks would wait for this one in a barrier
      active = undefined;
      throw e;
    }
    const { done, times } = runShare(call, (c) => {
      active = c;
    });
    const receipt = Float32Array.of(done);
    if (times !== undefined) return [receipt, Float32Array.from(PROFILE_PHASES, (p) => times.get(p) ?? 0)];
    return [receipt];
  },
  /** Live tensors in this thread (tests: nothing leaks between calls). */
  numTensors(): Float32Array[] {
    return [Float32Array.of(tf.memory().numTensors)];
  },
});
