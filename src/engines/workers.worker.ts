/**
 * The worker thread of the `workers` engine (`./workers.ts`): TensorFlow.js on its own wasm backend,
 * running Newton–Schulz on its share of the matrices of one engine call.
 *
 * A matrix is either *whole* (this thread iterates it alone, exactly as `newtonSchulz` does) or
 * *sharded*: every thread holds a block of rows of the tall orientation `Xᵀ` (n×k, n ≥ k) — a block of
 * columns of the wide `X` — and per step the threads exchange only k×k matrices through a
 * {@link SharedCollective}: the Gram matrix `A = XXᵀ = Σ_j X_j X_jᵀ` (all-reduce of the partial Grams;
 * at step 0 its trace also gives `‖X‖²_F`), then `P = aI + bA + cA²` computed by row blocks into shared
 * memory, and each thread updates its block `X_jᵀ ← X_jᵀ·P`. Sharded matrices are processed first, in
 * the same order on every thread (their collectives pair up), then this thread's whole ones.
 *
 * A whole matrix follows `newtonSchulzTall`'s op sequence (`src/linalg/newtonSchulz.ts`), so it gives the
 * tfjs engine's result on wasm bit for bit. A sharded one runs only its three products per step in
 * tfjs-wasm and the k×k work in JavaScript on shared memory ({@link iterateSharded}); it differs from
 * the tfjs engine by float32 rounding (summation order of the Gram matrix, `bA + cA²` for `A(bI + cA)`,
 * the normalization folded into the first update): ≤ 3e-6 relative on the golden inputs, except the
 * rank-deficient one, whose null space amplifies rounding noise (3.2e-5, within that file's own
 * float32-vs-float64 disagreement).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { SharedCollective, serveSync, type SharedCollectiveBuffers } from './bridge.js';
import { shardSizes } from '../linalg/collective.js';
import { PROFILE_PHASES } from './workers.js';

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
  /** Shared k×k floats (largest split k) where the ranks write their row blocks of `P`. */
  readonly gather?: SharedArrayBuffer;
  readonly rank: number;
  readonly tasks: readonly WorkersTask[];
  readonly steps: readonly (readonly [number, number, number])[];
  readonly normScale: number;
  readonly eps: number;
  /** A sharded matrix with k at least this computes `P` by row blocks (else every thread computes it all). */
  readonly splitPolynomialFrom: number;
  readonly timeoutMs: number;
  /** Return per-phase wall times (ms) as the call's output: see {@link PROFILE_PHASES}. */
  readonly profile?: boolean;
}

let backend: Promise<void> | undefined;

function wasmBackend(): Promise<void> {
  backend ??= (async () => {
    tf.env().set('PROD', true); // no Node banner
    if (!(await tf.setBackend('wasm'))) throw new Error('could not initialise the TensorFlow.js wasm backend in the worker');
  })();
  return backend;
}

/**
 * The values of a tensor without a copy where the backend allows it: a view of the wasm heap (valid
 * until the next op, which may grow and so move the heap). tfjs's `dataSync` copies into a freshly
 * allocated buffer — measured 8–45 ms for 2–8 MB here, against 0.05–0.3 ms for a copy out of the view.
 */
function valuesOf(t: tf.Tensor): Float32Array {
  const b = tf.backend();
  return b instanceof BackendWasm ? (b.typedArrayFromHeap(t) as Float32Array) : (t.dataSync() as Float32Array);
}

/**
 * `dst[dstOffset + j·dstStride + i] = src[srcOffset + i·srcStride + j]` for i < rows, j < cols: a tiled
 * transpose in JavaScript (16×16 tiles). Measured 2–4× faster than tfjs-wasm's `Transpose` kernel on
 * 512×1024 – 2048×1024 float32 (1.1 ms against 4–19 ms; 16 ms against 35–46 ms).
 */
export function transposeInto(
  src: Float32Array,
  srcOffset: number,
  srcStride: number,
  rows: number,
  cols: number,
  dst: Float32Array,
  dstOffset: number,
  dstStride: number,
): void {
  const T = 16;
  for (let i0 = 0; i0 < rows; i0 += T) {
    const i1 = Math.min(rows, i0 + T);
    for (let j0 = 0; j0 < cols; j0 += T) {
      const j1 = Math.min(cols, j0 + T);
      for (let i = i0; i < i1; i++) {
        const s = srcOffset + i * srcStride;
        const d = dstOffset + i;
        for (let j = j0; j < j1; j++) dst[d + j * dstStride] = src[s + j];
      }
    }
  }
}

/** Per-phase wall time of one call (ms), when `call.profile` is set. */
class Timings {
  readonly totals = new Map<string, number>();
  private last = 0;
  constructor(readonly enabled: boolean) {}
  start(): void {
    if (this.enabled) this.last = performance.now();
  }
  /** Adds the time since the previous mark to `phase`. */
  mark(phase: string): void {
    if (!this.enabled) return;
    const t = performance.now();
    this.totals.set(phase, (this.totals.get(phase) ?? 0) + (t - this.last));
    this.last = t;
  }
}

/** Reusable JavaScript scratch arrays of one thread (grown on demand). */
const scratch = new Map<string, Float32Array>();
function scratchOf(name: string, length: number): Float32Array {
  let a = scratch.get(name);
  if (a === undefined || a.length < length) {
    a = new Float32Array(length);
    scratch.set(name, a);
  }
  return a.subarray(0, length);
}

/**
 * Newton–Schulz on this rank's block `xt` (m×k, tall) of a matrix split over the ranks (module comment),
 * with every k×k step done in JavaScript on shared memory and only the three products in tfjs-wasm:
 * 1. `G_j = X_jᵀ·X_j` (the transpose by {@link transposeInto}), copied from the wasm heap into this
 *    rank's slot; barrier; `A = Σ_j G_j` summed in rank order in JavaScript (bit-identical on every
 *    rank). At step 0 `trace A = ‖X‖²_F` gives `d = ‖X‖_F·normScale + eps` and `A ← A/d²`.
 * 2. This rank's rows `A_r` of A times A: `M_r = A_r·A` (a rows×k by k×k product), then
 *    `P_r = aI_r + bA_r + cM_r` (at step 0 also divided by d, which normalizes X inside the update),
 *    written straight into the shared k×k `P`; barrier (only when the rows are split).
 * 3. `X_j ← X_j·P`.
 * Per step that is 2 barriers, one k×k copy out of and two into the wasm heap; no element-wise tfjs op
 * (tfjs-wasm's scalar-broadcast element-wise ops and slices were measured at 10–30 ms per k×k step).
 * Takes ownership of `xt`.
 */
function iterateSharded(
  xt: tf.Tensor2D,
  call: WorkersCall,
  collective: SharedCollective,
  gather: Float32Array,
  timings: Timings,
): tf.Tensor2D {
  const [m, k] = xt.shape;
  const kk = k * k;
  const split = k >= Math.max(call.splitPolynomialFrom, collective.size);
  const blocks = split ? shardSizes(k, collective.size) : [k];
  const rank = split ? collective.rank : 0;
  const first = blocks.slice(0, rank).reduce((s, r) => s + r, 0);
  const rows = blocks[rank];
  const A = scratchOf('A', kk);
  const sizes = new Array<number>(collective.size).fill(kk);
  const xtT = scratchOf('xtT', k * m);
  // P: in shared memory when every rank computes a block of its rows, else this thread's own
  const P = split ? gather.subarray(0, kk) : scratchOf('P', kk);
  let x = xt;
  const steps = call.steps.length;
  for (let i = 0; i < Math.max(1, steps); i++) {
    // the Gram matrix of the whole matrix (step 0: of the input, for the norm as well)
    timings.start();
    transposeInto(valuesOf(x), 0, k, m, k, xtT, 0, m);
    timings.mark('transpose');
    const xT = tf.tensor2d(xtT, [k, m]);
    const g = tf.matMul(xT, x);
    xT.dispose();
    timings.mark('gram');
    collective.outbox(kk).set(valuesOf(g));
    g.dispose();
    timings.mark('copy');
    const views = collective.publish(sizes);
    let scale = 1; // 1/d at step 0 (the normalization folded into P)
    timings.mark('wait');
    A.set(views[0]);
    for (let r = 1; r < views.length; r++) {
      const v = views[r];
      for (let e = 0; e < kk; e++) A[e] += v[e];
    }
    if (i === 0) {
      let trace = 0;
      for (let e = 0; e < k; e++) trace += A[e * k + e];
      const d = Math.fround(Math.fround(Math.sqrt(trace) * call.normScale) + call.eps);
      if (steps === 0) {
        timings.mark('sum');
        const out = tf.div(x, d) as tf.Tensor2D;
        x.dispose();
        return out;
      }
      scale = 1 / d;
      const s2 = scale * scale;
      for (let e = 0; e < kk; e++) A[e] *= s2;
    }
    timings.mark('sum');
    const [a, b, c] = call.steps[i];
    const aT = tf.tensor2d(A, [k, k]);
    const aR = rows === k ? aT : tf.tensor2d(A.subarray(first * k, (first + rows) * k), [rows, k]);
    const mR = tf.matMul(aR, aT);
    timings.mark('poly');
    const mv = valuesOf(mR);
    for (let r = 0; r < rows; r++) {
      const row = (first + r) * k;
      for (let col = 0; col < k; col++) {
        const e = row + col;
        P[e] = scale * (c * mv[r * k + col] + b * A[e]);
      }
      P[row + first + r] += scale * a;
    }
    tf.dispose(rows === k ? [aT, mR] : [aT, aR, mR]);
    timings.mark('combine');
    if (split) {
      collective.barrier();
      timings.mark('wait');
    }
    const pT = tf.tensor2d(P, [k, k]);
    const next = tf.matMul(x, pT) as tf.Tensor2D;
    tf.dispose([pT, x]);
    x = next;
    timings.mark('update');
  }
  return x;
}

/** Newton–Schulz on a whole tall matrix `xt` (m×k): `newtonSchulzTall`'s op sequence, so tfjs's bits. */
function iterateTall(xt: tf.Tensor2D, call: WorkersCall): tf.Tensor2D {
  const k = xt.shape[1];
  const eye = tf.eye(k);
  const gram = (x: tf.Tensor2D): tf.Tensor2D => tf.matMul(tf.transpose(x), x) as tf.Tensor2D;
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
      const P = tf.add(tf.matMul(A, tf.add(tf.mul(A, c), tf.mul(eye, b))), tf.mul(eye, a));
      return tf.matMul(x, P) as tf.Tensor2D;
    });
    x.dispose();
    x = next;
  }
  tf.dispose([a0, eye]);
  return x;
}

/** Reads this thread's block as a tall m×k tensor, iterates, and writes the result back in place. */
function runTask(task: WorkersTask, call: WorkersCall, collective: SharedCollective | undefined, timings: Timings): void {
  const view = new Float32Array(call.data);
  const { offset, rows, cols, start, end } = task;
  const m = end - start;
  const tall = rows >= cols;
  const k = tall ? cols : rows;
  timings.start();
  let xt: tf.Tensor2D;
  if (tall) {
    // the block is rows [start, end), contiguous
    xt = tf.tensor2d(view.subarray(offset + start * k, offset + end * k), [m, k]);
  } else {
    // wide k×n: the block is columns [start, end); iterate on its transpose
    const block = scratchOf('in', m * k);
    transposeInto(view, offset + start, cols, k, m, block, 0, k);
    xt = tf.tensor2d(block, [m, k]);
  }
  timings.mark('in');
  let out: tf.Tensor2D;
  if (collective === undefined) {
    out = iterateTall(xt, call);
    xt.dispose();
  } else {
    const gather = new Float32Array(call.gather!);
    out = iterateSharded(xt, call, collective, gather, timings);
  }
  timings.start();
  const o = valuesOf(out);
  if (tall) view.set(o, offset + start * k);
  else transposeInto(o, 0, k, m, k, view, offset + start, cols);
  out.dispose();
  timings.mark('out');
}

serveSync({
  async newtonSchulz(_inputs: Float32Array[], call: WorkersCall): Promise<Float32Array[]> {
    const collective = call.collective === undefined ? undefined : new SharedCollective(call.collective, call.rank, call.timeoutMs);
    try {
      await wasmBackend();
      const timings = new Timings(call.profile === true);
      for (const task of call.tasks) runTask(task, call, task.sharded ? collective : undefined, timings);
      if (timings.enabled) return [Float32Array.from(PROFILE_PHASES, (p) => timings.totals.get(p) ?? 0)];
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
