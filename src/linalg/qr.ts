/**
 * Column orthonormalization by thin QR: `P = Q·R` with `Q` (m×n, m ≥ n) having orthonormal columns and
 * `R` upper triangular. Dion's power iteration needs exactly this `Q` (not the polar factor: the next
 * `R = Bᵀ·Q` and its column normalization depend on the triangular basis), and its weight trajectory is
 * independent of the column-sign convention (spec `muon-family.md` §9.1; golden README item 5).
 *
 * Two methods, both exact QR up to column signs:
 * - `'cholesky'` (CholeskyQR2; Fukaya, Nakatsukasa, Yanagisawa, Yamamoto, "CholeskyQR2: a simple and
 *   communication-avoiding algorithm for computing a tall-skinny QR factorization", ScalA 2014): the
 *   n×n Gram matrix `PᵀP` is one backend matmul, its Cholesky factor `LLᵀ` is computed on the host in
 *   float64, and `P ← P·L⁻ᵀ` is one more matmul; done twice, which makes the columns orthonormal to
 *   float32 rounding whenever `cond(P)² · 1e-7 ≪ 1`. Like microsoft/dion's `"cqr"`/`"rcqr"` methods it
 *   falls back to Householder when the Gram matrix is not numerically positive definite (rank-deficient
 *   or badly conditioned P). Only the n×n Gram matrix is read back and n×n `L⁻ᵀ` uploaded per pass; the
 *   big products stay on the backend (XNNPACK on wasm). Row-sharded P needs one all-reduce of the Gram
 *   matrix per pass and nothing else — the reason Dion orthonormalizes this way at scale.
 * - `'householder'`: Householder QR in float64 on the host (LAPACK `geqrf` + `orgqr` sign convention,
 *   `R_jj = −sign(a_jj)·‖a_j‖`, as `torch.linalg.qr`), on P read back once. Exact for any input,
 *   including zero and rank-deficient columns (a zero column gets no reflector, so Q completes the basis
 *   with a unit vector); costs a read-back of P and ~4mn² host flops. This is the QR of the golden
 *   `dion_reference` files (`qr_method='qr'`).
 *
 * `tf.linalg.qr` is not used: it builds the full m×m Q (m²·n work and memory), divides by zero on a zero
 * column (NaN), and computes its reflectors with `tf.norm`, whose wasm reduction was measured ~1.6e-4
 * relative off — the reflectors are then not orthogonal to float32 precision.
 *
 * Host read-backs are synchronous (`dataSync`): free on cpu and wasm, a pipeline stall on webgl/webgpu.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ShardGroup } from './communicator.js';

/** How columns are orthonormalized. Single camelCase words (they survive tfjs-layers config reloads). */
export type QrMethod = 'cholesky' | 'householder';

/** The QR methods, for validation. */
export const qrMethods: readonly QrMethod[] = ['cholesky', 'householder'];

/**
 * Thin Householder QR in float64: returns the m×n `Q` (row-major) of `a` (m×n, row-major, m ≥ n).
 * Column signs follow LAPACK `dlarfg` (`R_jj = −sign(a_jj)·‖a_j‖`); a column that is already zero
 * below the diagonal gets no reflector (`H = I`).
 */
export function householderQ64(a: ArrayLike<number>, m: number, n: number): Float64Array {
  if (m < n) throw new RangeError(`householderQ64: need rows >= cols, got ${m}x${n}`);
  const r = Float64Array.from(a);
  const vs: (Float64Array | null)[] = [];
  for (let j = 0; j < n; j++) {
    let below2 = 0;
    for (let i = j + 1; i < m; i++) below2 += r[i * n + j] * r[i * n + j];
    const alpha = r[j * n + j];
    // LAPACK dlarfg: nothing below the diagonal → H = I (R_jj keeps the sign of a_jj).
    if (below2 === 0) {
      vs.push(null);
      continue;
    }
    const norm = Math.sqrt(alpha * alpha + below2);
    const beta = alpha >= 0 ? -norm : norm;
    // v = x − β e₁, normalized so that H = I − 2vvᵀ.
    const v = new Float64Array(m - j);
    v[0] = alpha - beta;
    for (let i = j + 1; i < m; i++) v[i - j] = r[i * n + j];
    let vn2 = 0;
    for (const x of v) vn2 += x * x;
    if (vn2 === 0) {
      vs.push(null);
      continue;
    }
    const vn = Math.sqrt(vn2);
    for (let i = 0; i < v.length; i++) v[i] /= vn;
    for (let c = j; c < n; c++) {
      let dot = 0;
      for (let i = j; i < m; i++) dot += v[i - j] * r[i * n + c];
      dot *= 2;
      for (let i = j; i < m; i++) r[i * n + c] -= dot * v[i - j];
    }
    vs.push(v);
  }
  // Q = H₀H₁…H_{n−1}·[I_n; 0], applying the reflectors right to left.
  const q = new Float64Array(m * n);
  for (let j = 0; j < n; j++) q[j * n + j] = 1;
  for (let j = n - 1; j >= 0; j--) {
    const v = vs[j];
    if (v === null) continue;
    for (let c = 0; c < n; c++) {
      let dot = 0;
      for (let i = j; i < m; i++) dot += v[i - j] * q[i * n + c];
      if (dot === 0) continue;
      dot *= 2;
      for (let i = j; i < m; i++) q[i * n + c] -= dot * v[i - j];
    }
  }
  return q;
}

/**
 * Cholesky factor in float64: lower-triangular `L` (row-major n×n) with `g = L·Lᵀ`, or `null` when a
 * pivot is not positive or falls below `relTol` times its diagonal entry (numerically singular).
 */
export function cholesky64(g: ArrayLike<number>, n: number, relTol = 1e-10): Float64Array | null {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = g[j * n + j];
    for (let k = 0; k < j; k++) d -= l[j * n + k] * l[j * n + k];
    if (!(d > relTol * Math.abs(g[j * n + j])) || !Number.isFinite(d)) return null;
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = g[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = s / ljj;
    }
  }
  return l;
}

/** `(L⁻¹)ᵀ` (upper triangular, row-major n×n) of a lower-triangular `L` with a non-zero diagonal. */
export function inverseTransposeLower64(l: ArrayLike<number>, n: number): Float64Array {
  // Forward substitution column by column: L·X = I, X lower triangular; return Xᵀ.
  const x = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    for (let i = c; i < n; i++) {
      let s = i === c ? 1 : 0;
      for (let k = c; k < i; k++) s -= l[i * n + k] * x[k * n + c];
      x[i * n + c] = s / l[i * n + i];
    }
  }
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[j * n + i] = x[i * n + j];
  return out;
}

/** `PᵀP` on the backend, explicit transpose (wasm: transpose flags leave XNNPACK). */
function gramOf(p: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(tf.transpose(p), p);
}

/** Largest |G − I| entry of an n×n Gram matrix read back as float64. */
function distanceFromIdentity(g: ArrayLike<number>, n: number): number {
  let worst = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) worst = Math.max(worst, Math.abs(g[i * n + j] - (i === j ? 1 : 0)));
  }
  return worst;
}

/**
 * One CholeskyQR pass on row shards: reduces the Gram matrix, factors it on the host and applies
 * `L⁻ᵀ` to every shard. `null` when the Gram matrix is not numerically positive definite.
 */
function choleskyPass(shards: readonly tf.Tensor2D[], collective: ShardGroup | null): { out: tf.Tensor2D[]; gram: Float32Array } | null {
  const n = shards[0].shape[1];
  const grams = shards.map(gramOf);
  const reduced = collective === null ? grams : collective.allReduce(grams, 'sum');
  // Every shard holds the same reduced Gram matrix; each factors its own copy (identical results).
  const g = reduced[0].dataSync() as Float32Array;
  const l = cholesky64(g, n);
  if (l === null) return null;
  const linvT = tf.tensor2d(Float32Array.from(inverseTransposeLower64(l, n)), [n, n]);
  return { out: shards.map((p) => tf.matMul(p, linvT)), gram: g };
}

/** Host Householder Q of the row-stacked shards, split back into the shards' rows. */
function householderShards(shards: readonly tf.Tensor2D[], collective: ShardGroup | null): tf.Tensor2D[] {
  const n = shards[0].shape[1];
  const full = collective === null ? shards[0] : (collective.allGather(shards, 0)[0] as tf.Tensor2D);
  const m = full.shape[0];
  if (m < n) {
    throw new RangeError(`orthonormalizeColumns: need at least as many rows as columns, got ${m}x${n}`);
  }
  const q = tf.tensor2d(Float32Array.from(householderQ64(full.dataSync(), m, n)), [m, n]);
  if (collective === null || collective.communicator.size === 1) {
    if (shards.length === 1) return [q];
    return tf.split(q, shards.map((s) => s.shape[0]), 0) as tf.Tensor2D[];
  }
  // Q of every rank's rows: keep this process's shards (global shards rank·localShards …)
  const rows = Array.from(collective.allGather(shards.map((s) => tf.tensor1d([s.shape[0]])), 0)[0].dataSync());
  const first = collective.communicator.rank * collective.localShards;
  return (tf.split(q, rows, 0) as tf.Tensor2D[]).slice(first, first + shards.length);
}

function orthonormalizeShards(
  shards: readonly tf.Tensor2D[],
  method: QrMethod,
  collective: ShardGroup | null,
): tf.Tensor2D[] {
  const n = shards[0].shape[1];
  if (n === 0) return [...shards];
  if (method === 'cholesky') {
    const first = choleskyPass(shards, collective);
    if (first !== null) {
      const second = choleskyPass(first.out, collective);
      // The second pass starts from nearly orthonormal columns; if it did not, P was too ill-conditioned
      // for CholeskyQR in float32 and the Householder result is the trustworthy one.
      if (second !== null && distanceFromIdentity(second.gram, n) < 0.5) return second.out;
    }
  }
  return householderShards(shards, collective);
}

/**
 * Orthonormal columns spanning the columns of `p` (m×n, m ≥ n): the `Q` of a thin QR `p = Q·R`, by
 * CholeskyQR2 with a Householder fallback (`'cholesky'`, default) or host Householder
 * (`'householder'`). A zero matrix gives unit columns (Householder convention), never NaN.
 * Call inside `tf.tidy`.
 *
 * @example
 * const q = orthonormalizeColumns(tf.randomNormal([256, 16]) as tf.Tensor2D);
 */
export function orthonormalizeColumns(p: tf.Tensor2D, method: QrMethod = 'cholesky'): tf.Tensor2D {
  if (p.rank !== 2) throw new RangeError(`orthonormalizeColumns: need a matrix, got shape [${p.shape.join(', ')}]`);
  if (p.shape[0] < p.shape[1]) {
    throw new RangeError(`orthonormalizeColumns: need at least as many rows as columns, got ${p.shape[0]}x${p.shape[1]}`);
  }
  return orthonormalizeShards([p], method, null)[0];
}

/**
 * {@link orthonormalizeColumns} of the row-stacked matrix `[P₀; P₁; …]` whose row blocks live on
 * different shards: `'cholesky'` all-reduces the n×n Gram matrix (twice) and applies `L⁻ᵀ` locally;
 * `'householder'` (and the Cholesky fallback) all-gathers the rows. `rowShards` are this process's
 * `collective.localShards` shards (of `collective.size` in all ranks). Returns each shard's rows of `Q`.
 */
export function orthonormalizeColumnsSharded(
  rowShards: readonly tf.Tensor2D[],
  collective: ShardGroup,
  method: QrMethod = 'cholesky',
): tf.Tensor2D[] {
  if (rowShards.length !== collective.localShards) {
    throw new RangeError(`orthonormalizeColumnsSharded: expected ${collective.localShards} shards, got ${rowShards.length}`);
  }
  return orthonormalizeShards(rowShards, method, collective);
}
