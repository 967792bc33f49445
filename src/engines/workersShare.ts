/**
 * One rank's share of a `workers` engine call (`./workers.ts`): Newton–Schulz on the tasks of one thread,
 * on that thread's TensorFlow.js wasm backend. Run by every worker thread (`./workers.worker.ts`) and, for
 * its own share, by the calling thread itself (`WorkersEngineOptions.mainThreadShare`), so that the calling
 * thread computes instead of only waiting — the same code on the same kernels (tfjs-wasm's XNNPACK
 * products), hence the same bits whichever thread runs a rank.
 *
 * A matrix is either *whole* (one rank iterates it alone, exactly as `newtonSchulz` does) or *sharded*:
 * every rank holds a block of rows of the tall orientation `Xᵀ` (n×k, n ≥ k) — a block of columns of the
 * wide `X` — and per step the ranks exchange only k×k matrices through a {@link SharedCollective}: the
 * Gram matrix `A = XXᵀ = Σ_j X_j X_jᵀ` (all-reduce of the partial Grams; at step 0 its trace also gives
 * `‖X‖²_F`), then `P = aI + bA + cA²` computed by blocks into shared memory, and each rank updates its
 * block `X_jᵀ ← X_jᵀ·P`. Sharded matrices are processed first, in the same order on every rank (their
 * collectives pair up), then the rank's whole ones.
 *
 * A whole matrix follows `newtonSchulzTall`'s op sequence (`src/linalg/newtonSchulz.ts`), so it gives the
 * tfjs engine's result on wasm bit for bit. A sharded one runs only its three products per step in
 * tfjs-wasm and the k×k work in JavaScript on shared memory ({@link iterateSharded}); it differs from
 * the tfjs engine by float32 rounding (summation order of the Gram matrix, `bA + cA²` for `A(bI + cA)`,
 * the normalization folded into the first update): ≤ 3e-6 relative on the golden inputs, except the
 * rank-deficient one, whose null space amplifies rounding noise (3.2e-5, within that file's own
 * float32-vs-float64 disagreement).
 *
 * With AOL preconditioning (Turbo-Muon, `src/linalg/aol.ts`) a whole matrix runs `aolPreconditionTall`
 * itself (tfjs's bits again); a sharded one computes `s_i = 1/√max(Σ_j |A_ij|, eps)` from the all-reduced
 * Gram matrix of step 0 (identical on every rank), uses `diag(s)·A·diag(s)` as that step's Gram matrix,
 * and scales X inside the first update: `X_j·diag(s)·P = X_j·(diag(s)·P)`.
 *
 * References: Jordan et al., "Muon: An optimizer for hidden layers in neural networks" (2024), the
 * iteration of KellerJordan/Muon `muon.py` (`zeropower_via_newtonschulz5`); Turbo-Muon's AOL scaling from
 * Prach & Lampert, "Almost-Orthogonal Layers for Efficient General-Purpose Lipschitz Networks" (ECCV 2022).
 * Moved here from `./workers.worker.ts` unchanged but for {@link runShare} and the wasm check in `valuesOf`.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { SharedCollective, type SharedCollectiveBuffers } from './bridge.js';
import { shardSizes } from '../linalg/collective.js';
import { autoGramBlocks, transposeInto, triangleBlocks, triangleBlocksOf } from './blocks.js';
import { aolPreconditionTall } from '../linalg/aol.js';

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
  /** Frobenius: added to the scaled norm; AOL: the floor of the row sums of `|A|`. */
  readonly eps: number;
  /** `'frobenius'`, or Turbo-Muon's `'aol'` (`src/linalg/aol.ts`). */
  readonly precondition: 'frobenius' | 'aol';
  /** A sharded matrix with k at least this computes `P` by row blocks (else every thread computes it all). */
  readonly splitPolynomialFrom: number;
  /** Column blocks of a sharded matrix's partial Gram, only those on and above the diagonal computed (0: {@link autoGramBlocks}). */
  readonly gramBlocks: number;
  readonly timeoutMs: number;
  /** Return per-phase wall times (ms) as the call's output: see `PROFILE_PHASES` in `./workers.ts`. */
  readonly profile?: boolean;
}

/**
 * The values of a tensor without a copy where the backend allows it: a view of the wasm heap (valid
 * until the next op, which may grow and so move the heap). tfjs's `dataSync` copies into a freshly
 * allocated buffer — measured 8–45 ms for 2–8 MB here, against 0.05–0.3 ms for a copy out of the view.
 */
function valuesOf(t: tf.Tensor): Float32Array {
  // duck-typed: this module must not import the wasm package (the calling thread would register it)
  const b = tf.backend() as unknown as { typedArrayFromHeap?: (t: tf.Tensor) => Float32Array };
  return typeof b.typedArrayFromHeap === 'function' ? b.typedArrayFromHeap(t) : (t.dataSync() as Float32Array);
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

/** Reusable JavaScript scratch arrays of one thread (grown on demand; {@link releaseShareScratch} frees them). */
const scratch = new Map<string, Float32Array>();

/** Frees this thread's scratch arrays (the calling thread's, when its engine shuts down). */
export function releaseShareScratch(): void {
  scratch.clear();
}
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
 * with only the products in tfjs-wasm and every k×k step in JavaScript on shared memory:
 * 1. The partial Gram `G_j = X_jᵀ·X_j` by g column blocks ({@link autoGramBlocks}), only those on and
 *    above the diagonal (`X_jᵀ[g_i:g_{i+1}]·X_j[:, g_i:k]`; G is symmetric), written from the wasm heap
 *    into this rank's slot; barrier; `A = Σ_j G_j` summed in rank order in JavaScript (bit-identical on
 *    every rank) and mirrored below the diagonal. At step 0 `trace A = ‖X‖²_F` gives
 *    `d = ‖X‖_F·normScale + eps` and `A ← A/d²` — or, with AOL, `s_i = 1/√max(Σ_j |A_ij|, eps)` and
 *    `A ← diag(s)·A·diag(s)`.
 * 2. `A²` by the row blocks of {@link triangleBlocks}, only on and above the diagonal, each rank a long
 *    and a short block (5/8 of the product per rank for 2 ranks); there `P = aI + bA + cA²` (at step 0
 *    divided by d as well, which normalizes X inside the update), written with its mirror image
 *    straight into the shared k×k `P`; barrier.
 * 3. `X_j ← X_j·P` (AOL, step 0: `X_j ← X_j·(diag(s)·P)`, a row-scaled copy of P).
 * The mirrored entries are the same dot products as the ones computed (same terms, same order), so the
 * blocks change no bit of the result. No element-wise tfjs op (tfjs-wasm's scalar-broadcast element-wise
 * ops and slices were measured at 10–30 ms per k×k step here) and no `dataSync` (a view of the wasm heap
 * instead). Takes ownership of `xt`.
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
  const split = k >= Math.max(call.splitPolynomialFrom, 2 * collective.size);
  const parts = split ? collective.size : 1;
  // (k = 1: one block)
  const bounds = k >= 2 * parts ? triangleBlocks(k, parts) : [0, k];
  const mine = k >= 2 * parts ? triangleBlocksOf(split ? collective.rank : 0, parts) : [0];
  const gramBounds = [0];
  const gramBlocks = Math.min(call.gramBlocks > 0 ? call.gramBlocks : autoGramBlocks(k), k);
  for (const size of shardSizes(k, gramBlocks)) gramBounds.push(gramBounds[gramBounds.length - 1] + size);
  const A = scratchOf('A', kk);
  const sizes = new Array<number>(collective.size).fill(kk);
  const xtT = scratchOf('xtT', k * m);
  const tail = scratchOf('tail', m * k);
  const columns = scratchOf('columns', kk);
  // P: in shared memory when every rank computes blocks of it, else this thread's own
  const P = split ? gather.subarray(0, kk) : scratchOf('P', kk);
  let x = xt;
  const steps = call.steps.length;
  for (let i = 0; i < Math.max(1, steps); i++) {
    // the Gram matrix of the whole matrix (step 0: of the input, for the norm as well)
    timings.start();
    transposeInto(valuesOf(x), 0, k, m, k, xtT, 0, m);
    timings.mark('transpose');
    const outbox = collective.outbox(kk);
    for (let g = 0; g + 1 < gramBounds.length; g++) {
      const g0 = gramBounds[g];
      const g1 = gramBounds[g + 1];
      const w = k - g0;
      const left = tf.tensor2d(xtT.subarray(g0 * m, g1 * m), [g1 - g0, m]);
      let right = x;
      if (g0 > 0) {
        const xv = valuesOf(x);
        for (let r = 0; r < m; r++) tail.set(xv.subarray(r * k + g0, r * k + k), r * w);
        right = tf.tensor2d(tail.subarray(0, m * w), [m, w]);
      }
      const block = tf.matMul(left, right);
      const bv = valuesOf(block);
      for (let r = 0; r < g1 - g0; r++) outbox.set(bv.subarray(r * w, (r + 1) * w), (g0 + r) * k + g0);
      tf.dispose(right === x ? [left, block] : [left, right, block]);
    }
    timings.mark('gram');
    const views = collective.publish(sizes);
    timings.mark('wait');
    for (let g = 0; g + 1 < gramBounds.length; g++) {
      const g0 = gramBounds[g];
      for (let r = g0; r < gramBounds[g + 1]; r++) {
        const from = r * k + g0;
        const to = r * k + k;
        A.set(views[0].subarray(from, to), from);
        for (let v = 1; v < views.length; v++) {
          const view = views[v];
          for (let e = from; e < to; e++) A[e] += view[e];
        }
      }
    }
    for (let g = 0; g + 2 < gramBounds.length; g++) {
      const g0 = gramBounds[g];
      const g1 = gramBounds[g + 1];
      transposeInto(A, g0 * k + g1, k, g1 - g0, k - g1, A, g1 * k + g0, k);
    }
    let scale = 1; // 1/d at step 0 (the normalization folded into P)
    let aol: Float32Array | undefined; // AOL's s at step 0 (folded into the update)
    if (i === 0 && call.precondition === 'aol') {
      aol = scratchOf('aol', k);
      for (let r = 0; r < k; r++) {
        let sum = 0;
        for (let e = r * k; e < (r + 1) * k; e++) sum += Math.abs(A[e]);
        aol[r] = 1 / Math.sqrt(Math.max(Math.fround(sum), call.eps));
      }
      if (steps === 0) {
        timings.mark('sum');
        const sT = tf.tensor2d(aol, [1, k]);
        const out = tf.mul(x, sT) as tf.Tensor2D;
        tf.dispose([x, sT]);
        return out;
      }
      for (let r = 0; r < k; r++) {
        const sr = aol[r];
        for (let col = 0; col < k; col++) A[r * k + col] *= sr * aol[col];
      }
    } else if (i === 0) {
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
    // this rank's blocks of A²: A[c_i:c_{i+1}, :]·A[:, c_i:k], then P there and its mirror image
    const [a, b, c] = call.steps[i];
    const aT = tf.tensor2d(A, [k, k]);
    for (const block of mine) {
      const first = bounds[block];
      const last = bounds[block + 1];
      const rows = last - first;
      const width = k - first;
      const aR = tf.tensor2d(A.subarray(first * k, last * k), [rows, k]);
      let aC = aT;
      if (first > 0) {
        for (let r = 0; r < k; r++) columns.set(A.subarray(r * k + first, r * k + k), r * width);
        aC = tf.tensor2d(columns.subarray(0, k * width), [k, width]);
      }
      const sq = tf.matMul(aR, aC);
      timings.mark('poly');
      const sv = valuesOf(sq);
      for (let r = 0; r < rows; r++) {
        const row = (first + r) * k + first;
        for (let col = 0; col < width; col++) P[row + col] = scale * (c * sv[r * width + col] + b * A[row + col]);
        P[row + r] += scale * a;
      }
      transposeInto(P, first * k + last, k, rows, k - last, P, last * k + first, k);
      tf.dispose(aC === aT ? [aR, sq] : [aR, aC, sq]);
      timings.mark('combine');
    }
    aT.dispose();
    if (split) {
      collective.barrier();
      timings.mark('wait');
    }
    let pUsed = P;
    if (aol !== undefined) {
      // X·diag(s)·P = X·(diag(s)·P): scale the rows of (a copy of) P
      pUsed = scratchOf('Ps', kk);
      for (let r = 0; r < k; r++) {
        const sr = aol[r];
        for (let col = 0; col < k; col++) pUsed[r * k + col] = sr * P[r * k + col];
      }
    }
    const pT = tf.tensor2d(pUsed, [k, k]);
    const next = tf.matMul(x, pT) as tf.Tensor2D;
    tf.dispose([pT, x]);
    x = next;
    timings.mark('update');
  }
  return x;
}

/**
 * Newton–Schulz on a whole tall matrix `xt` (m×k): `newtonSchulzTall`'s op sequence (with AOL,
 * `aolPreconditionTall` itself), so tfjs's bits.
 */
function iterateTall(xt: tf.Tensor2D, call: WorkersCall): tf.Tensor2D {
  const k = xt.shape[1];
  const eye = tf.eye(k);
  const gram = (x: tf.Tensor2D): tf.Tensor2D => tf.matMul(tf.transpose(x), x) as tf.Tensor2D;
  // ‖X‖²_F = trace(X Xᵀ); X ← X/d with d = ‖X‖_F·normScale + eps, and A₀ ← A₀/d² (or AOL's scaling)
  const [normalized, a0] = tf.tidy(() => {
    const g = gram(xt);
    if (call.precondition === 'aol') {
      const p = aolPreconditionTall(xt, g, call.eps);
      return [p.x, p.gram];
    }
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
  // one scope: an error (another thread gave up) leaves no tensor behind either
  const out = tf.tidy(() => {
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
    if (collective === undefined) {
      const whole = iterateTall(xt, call);
      timings.mark('update');
      return whole;
    }
    return iterateSharded(xt, call, collective, new Float32Array(call.gather!), timings);
  });
  timings.start();
  const o = valuesOf(out);
  if (tall) view.set(o, offset + start * k);
  else transposeInto(o, 0, k, m, k, view, offset + start, cols);
  out.dispose();
  timings.mark('out');
}


/** What one rank's share did: the tasks written back and, when profiling, the ms per phase. */
export interface ShareResult {
  readonly done: number;
  readonly times: ReadonlyMap<string, number> | undefined;
}

/**
 * Runs `call.tasks` (rank `call.rank`'s share) on this thread's TensorFlow.js backend, writing each result
 * back in place into `call.data`. On an error (another rank gave up, a barrier timed out) it aborts the
 * collective, so that no other rank waits for this one, and rethrows; no tensor is left behind either
 * way. `onCollective` sees the collective while the share runs (then `undefined`): the worker thread
 * aborts it from its `'exit'` hook. `watch` runs while this rank waits in a barrier (see
 * {@link SharedCollective}): the calling thread aborts there when a worker died.
 */
export function runShare(
  call: WorkersCall,
  onCollective?: (c: SharedCollective | undefined) => void,
  watch?: () => void,
): ShareResult {
  const collective = call.collective === undefined ? undefined : new SharedCollective(call.collective, call.rank, call.timeoutMs, watch);
  onCollective?.(collective);
  let done = 0;
  try {
    const timings = new Timings(call.profile === true);
    for (const task of call.tasks) {
      runTask(task, call, task.sharded ? collective : undefined, timings);
      done++;
    }
    return { done, times: timings.enabled ? timings.totals : undefined };
  } catch (e) {
    collective?.abort(); // the other ranks would wait for this one in a barrier
    throw e;
  } finally {
    onCollective?.(undefined);
  }
}
