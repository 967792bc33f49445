/**
 * The worker thread of the `workers` engine (`./workers.ts`): TensorFlow.js on its own wasm backend,
 * running Newton–Schulz on its share of the matrices of one engine call.
 *
 * A matrix is either *whole* (this thread iterates it alone, exactly as `newtonSchulz` does) or
 * *sharded*: every thread holds a block of rows of the tall orientation `Xᵀ` (n×k, n ≥ k) — a block of
 * columns of the wide `X` — and per step the threads exchange only k×k matrices through a
 * {@link SharedCollective}: the Gram matrix `A = XXᵀ = Σ_j X_j X_jᵀ` (all-reduce of the partial Grams;
 * at step 0 its trace also gives `‖X‖²_F`), then `P = aI + A(bI + cA)` computed by row blocks and
 * all-gathered, and each thread updates its block `X_jᵀ ← X_jᵀ·P`. Sharded matrices are processed first,
 * in the same order on every thread (their collectives pair up), then this thread's whole ones.
 *
 * The op sequence follows `newtonSchulzTall` (`src/linalg/newtonSchulz.ts`) so a whole matrix gives the
 * tfjs engine's result on wasm bit for bit, and a sharded one differs only by the summation order of
 * the Gram matrix.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { SharedCollective, serveSync, type SharedCollectiveBuffers } from './bridge.js';
import { shardSizes } from '../linalg/collective.js';

/** One matrix (or this thread's shard of it) in an engine call. */
export interface WorkersTask {
  /** Float offset of the row-major matrix in the call's data buffer. */
  readonly offset: number;
  readonly rows: number;
  readonly cols: number;
  /** This thread's range `[start, end)` along the long side (`max(rows, cols)`). */
  readonly start: number;
  readonly end: number;
  /** Whether the other threads hold the rest (collectives on `call.collective`). */
  readonly sharded: boolean;
}

/** The `meta` of one `newtonSchulz` call to a worker. */
export interface WorkersCall {
  /** Every matrix of the engine call, back to back; results are written in place. */
  readonly data: SharedArrayBuffer;
  readonly collective?: SharedCollectiveBuffers;
  readonly rank: number;
  readonly tasks: readonly WorkersTask[];
  readonly steps: readonly (readonly [number, number, number])[];
  readonly normScale: number;
  readonly eps: number;
  /** A sharded matrix with k at least this computes `P` by row blocks (else every thread computes it all). */
  readonly splitPolynomialFrom: number;
  readonly timeoutMs: number;
}

let backend: Promise<void> | undefined;

function wasmBackend(): Promise<void> {
  backend ??= (async () => {
    tf.env().set('PROD', true); // no Node banner
    if (!(await tf.setBackend('wasm'))) throw new Error('could not initialise the TensorFlow.js wasm backend in the worker');
  })();
  return backend;
}

/** Newton–Schulz on the tall block `xt` (m×k) of a matrix whose other blocks the other ranks hold. */
function iterateTall(xt: tf.Tensor2D, call: WorkersCall, collective: SharedCollective | undefined): tf.Tensor2D {
  const k = xt.shape[1];
  const eye = tf.eye(k);
  // the Gram matrix of the whole matrix: this block's, summed over the ranks
  const gram = (x: tf.Tensor2D): tf.Tensor2D => {
    const g = tf.matMul(tf.transpose(x), x) as tf.Tensor2D;
    if (collective === undefined) return g;
    // summed in rank order by wasm, so every rank gets the same bits (tf.tensor copies the shared views
    // into the wasm heap at once; this rank's own part is already there)
    const views = collective.share(g.dataSync() as Float32Array);
    const parts = views.map((v, r) => (r === collective.rank ? g : tf.tensor2d(v, [k, k])));
    return parts.reduce((sum, p) => tf.add(sum, p) as tf.Tensor2D);
  };
  const rowBlocks = collective !== undefined && k >= Math.max(call.splitPolynomialFrom, collective.size) ? shardSizes(k, collective.size) : undefined;
  // ‖X‖²_F = trace(X Xᵀ); X ← X/d with d = ‖X‖_F·normScale + eps, and A₀ ← A₀/d²
  const [normalized, a0] = tf.tidy(() => {
    const g = gram(xt);
    const d = tf.add(tf.mul(tf.sqrt(tf.sum(tf.mul(g, eye))), call.normScale), call.eps);
    return [tf.div(xt, d) as tf.Tensor2D, tf.div(g, tf.square(d)) as tf.Tensor2D];
  });
  let x: tf.Tensor2D = normalized;
  for (let i = 0; i < call.steps.length; i++) {
    const [a, b, c] = call.steps[i];
    const next = tf.tidy(() => {
      const A = i === 0 ? a0 : gram(x);
      const right = tf.add(tf.mul(A, c), tf.mul(eye, b));
      let P: tf.Tensor2D;
      if (rowBlocks === undefined || collective === undefined) {
        P = tf.add(tf.matMul(A, right), tf.mul(eye, a)) as tf.Tensor2D;
      } else {
        const rows = rowBlocks[collective.rank];
        const first = rowBlocks.slice(0, collective.rank).reduce((s, r) => s + r, 0);
        const block = tf.add(tf.matMul(tf.slice(A, [first, 0], [rows, k]), right), tf.mul(tf.slice(eye, [first, 0], [rows, k]), a));
        const views = collective.share(block.dataSync() as Float32Array, rowBlocks.map((r) => r * k));
        P = tf.concat(views.map((v, r) => (r === collective.rank ? block : tf.tensor2d(v, [rowBlocks[r], k]))), 0) as tf.Tensor2D;
      }
      return tf.matMul(x, P) as tf.Tensor2D;
    });
    x.dispose();
    x = next;
  }
  tf.dispose([a0, eye]);
  return x;
}

/** Reads this thread's block as a tall m×k tensor, iterates, and writes the result back in place. */
function runTask(task: WorkersTask, call: WorkersCall, collective: SharedCollective | undefined): void {
  const view = new Float32Array(call.data);
  const { offset, rows, cols, start, end } = task;
  const m = end - start;
  if (rows >= cols) {
    // tall: the block is rows [start, end), contiguous
    const k = cols;
    const x = tf.tensor2d(view.subarray(offset + start * k, offset + end * k), [m, k]);
    const out = iterateTall(x, call, collective);
    view.set(out.dataSync() as Float32Array, offset + start * k);
    tf.dispose([x, out]);
  } else {
    // wide k×n: the block is columns [start, end); iterate on its transpose
    const k = rows;
    const n = cols;
    const block = new Float32Array(k * m);
    for (let i = 0; i < k; i++) block.set(view.subarray(offset + i * n + start, offset + i * n + end), i * m);
    const xt = tf.tidy(() => tf.transpose(tf.tensor2d(block, [k, m])) as tf.Tensor2D);
    const out = tf.tidy(() => tf.transpose(iterateTall(xt, call, collective)));
    const o = out.dataSync() as Float32Array;
    for (let i = 0; i < k; i++) view.set(o.subarray(i * m, (i + 1) * m), offset + i * n + start);
    tf.dispose([xt, out]);
  }
}

serveSync({
  async newtonSchulz(_inputs: Float32Array[], call: WorkersCall): Promise<Float32Array[]> {
    const collective = call.collective === undefined ? undefined : new SharedCollective(call.collective, call.rank, call.timeoutMs);
    try {
      await wasmBackend();
      for (const task of call.tasks) runTask(task, call, task.sharded ? collective : undefined);
    } catch (e) {
      collective?.abort(); // the other ranks would wait for this one in a barrier
      throw e;
    }
    return [];
  },
  /** Live tensors in this thread (tests: nothing leaks between calls). */
  numTensors(): Float32Array[] {
    return [Float32Array.of(tf.memory().numTensors)];
  },
});
