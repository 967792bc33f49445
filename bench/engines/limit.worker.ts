/**
 * A worker thread of the `bench:engines` limit (`./limit.ts`), started through the library's
 * {@link SyncWorker} (src/engines/bridge.ts, as the workers engine's threads are): tfjs-wasm on
 * `A (size×size) · B_j (size×cols_j)`, its share of the columns of B. Calls: `prepare` (a fresh copy of
 * B_j, untimed: tfjs-wasm caches the packed right operand per tensor) and `go` (the product; returns its
 * ms in the thread).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { serveSync, syncWorkerData } from '../../src/engines/bridge.js';

/** What `./limit.ts` starts each thread with. */
export interface LimitWorkerData {
  readonly size: number;
  readonly cols: number;
  readonly rank: number;
}

const data = syncWorkerData<LimitWorkerData>();
tf.env().set('PROD', true);
if (!(await tf.setBackend('wasm'))) throw new Error('no wasm backend in the limit worker');
const a = tf.randomNormal([data.size, data.size], 0, 1, 'float32', 1);
const b = tf.randomNormal([data.size, data.cols], 0, 1, 'float32', 2 + data.rank);
let fresh: tf.Tensor | null = null;

serveSync({
  prepare: () => {
    tf.dispose(fresh ?? []);
    fresh = tf.add(b, 0);
    fresh.dataSync();
    return [];
  },
  go: () => {
    if (fresh === null) throw new Error("limit worker: 'go' before 'prepare'");
    const t0 = performance.now();
    const y = tf.matMul(a, fresh);
    const ms = performance.now() - t0;
    tf.dispose([y, fresh]);
    fresh = null;
    return [Float32Array.of(ms)];
  },
});
