/**
 * Orthonormal DCT bases and top-k column selection: the SVD-free projector of DCT-AdamW.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * The orthonormal DCT-II matrix in float64, row-major n×n: `Q[i, j] = √(2/n)·cos(π·i·(2j+1)/(2n))`, row
 * `i = 0` multiplied by `√½` — so `QᵀQ = QQᵀ = I`. Rows are frequencies, columns sample positions; a
 * projector uses the columns `Q[:, idx]`. As IST-DASLab/ISTA-DASLab-Optimizers
 * `ista_daslab_optimizers/utils/dct.py` `dct3_matrix` (the matrix DCT-AdamW's `sim_type = 'matmul'` uses),
 * from Modoranu et al., "SVD-Free Low-Rank Adaptive Gradient Optimization for Large Language Models"
 * (arXiv 2505.17967).
 */
export function dctMatrix64(n: number): Float64Array {
  checkSize(n);
  const q = new Float64Array(n * n);
  const scale = Math.sqrt(2 / n);
  for (let i = 0; i < n; i++) {
    const rowScale = i === 0 ? scale * Math.SQRT1_2 : scale;
    for (let j = 0; j < n; j++) q[i * n + j] = rowScale * Math.cos((Math.PI * i * (2 * j + 1)) / (2 * n));
  }
  return q;
}

function checkSize(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`dct: the basis size must be an integer ≥ 1, got ${n}`);
}

const cache = new Map<number, tf.Tensor2D>();

/**
 * The n×n DCT-II basis of {@link dctMatrix64} as a float32 tensor, built once per n (in float64 on the
 * host, then uploaded) and shared by every caller: layers with the same short side share one matrix, as
 * the reference shares its `Q`. The tensor is kept out of every `tf.tidy` and owned by the cache — never
 * dispose it; {@link clearDctCache} releases all of them (a leak check that counts tensors around a first
 * use of a new n sees the cached basis until then).
 */
export function dctBasis(n: number): tf.Tensor2D {
  checkSize(n);
  const hit = cache.get(n);
  if (hit && !hit.isDisposed) return hit;
  const basis = tf.keep(tf.tensor2d(Float32Array.from(dctMatrix64(n)), [n, n]));
  cache.set(n, basis);
  return basis;
}

/** Disposes every cached DCT basis (the next {@link dctBasis} call builds its matrix again). */
export function clearDctCache(): void {
  for (const basis of cache.values()) if (!basis.isDisposed) basis.dispose();
  cache.clear();
}

/** The sizes n whose basis is cached now. */
export function cachedDctSizes(): number[] {
  return [...cache.entries()].filter(([, b]) => !b.isDisposed).map(([n]) => n).sort((a, b) => a - b);
}

/**
 * Which side of an R×C matrix the projector reduces: `'columns'` — `a = A·Q[:, idx]` (R×r), the
 * reference's "right" projection for `R ≥ C`; `'rows'` — `a = Q[:, idx]ᵀ·A` (r×C), its "left" one.
 */
export type DctSide = 'columns' | 'rows';

/** The result of {@link selectDctColumns}: the chosen basis columns and the projected matrix. */
export interface DctSelection {
  /** The `r` chosen columns of Q, ascending, int32. */
  readonly indices: tf.Tensor1D;
  /** `A·Q[:, idx]` (`'columns'`, R×r) or `Q[:, idx]ᵀ·A` (`'rows'`, r×C). */
  readonly projected: tf.Tensor2D;
}

/**
 * Dynamic column selection (Modoranu et al., arXiv 2505.17967; IST-DASLab/ISTA-DASLab-Optimizers
 * `fft_low_rank/fft_projector.py` `FFTLowRankProjector.change_subspace`, `sim_type = 'matmul'`): the
 * similarities `S = A·Q` (`'columns'`; Q is C×C) or `S = Qᵀ·A` (`'rows'`; Q is R×R), each column
 * (resp. row) of S scored by its ℓ1 (or ℓ2) norm, the `rank` largest kept. The projected matrix is read
 * from S directly (no second product), as the reference does.
 *
 * The indices are returned in ascending order (the reference's `topk(sorted=False)` leaves the order to
 * the device; ascending makes the layout of a rank-r state depend only on the chosen set, so `r = n`
 * always gives `Q` in its own order). Ties between equal scores go to the lower index (tf.topk).
 * Not tidied: call inside a `tf.tidy`.
 */
export function selectDctColumns(a: tf.Tensor2D, q: tf.Tensor2D, rank: number, side: DctSide, norm: 1 | 2 = 1): DctSelection {
  const n = side === 'columns' ? a.shape[1] : a.shape[0];
  if (q.shape[0] !== n || q.shape[1] !== n) {
    throw new RangeError(`selectDctColumns: the basis must be ${n}×${n} for a ${a.shape[0]}×${a.shape[1]} matrix (${side}), got ${q.shape[0]}×${q.shape[1]}`);
  }
  if (!Number.isInteger(rank) || rank < 1 || rank > n) {
    throw new RangeError(`selectDctColumns: rank must be an integer in [1, ${n}], got ${rank}`);
  }
  const s = side === 'columns' ? tf.matMul(a, q) : tf.matMul(tf.transpose(q), a);
  const axis = side === 'columns' ? 0 : 1;
  const scores = norm === 1 ? tf.sum(tf.abs(s), axis) : tf.sqrt(tf.sum(tf.square(s), axis));
  const indices = topIndicesAscending(scores as tf.Tensor1D, rank);
  return { indices, projected: tf.gather(s, indices, side === 'columns' ? 1 : 0) as tf.Tensor2D };
}

/**
 * The indices of the `k` largest entries of `scores` (ties to the lower index, as tf.topk), in ascending
 * order of index, int32 — a layout that depends only on the chosen set. Not tidied.
 */
export function topIndicesAscending(scores: tf.Tensor1D, k: number): tf.Tensor1D {
  const top = tf.topk(scores, k, true).indices;
  // ascending: the k largest of −index (exact in float32 below 2²⁴)
  return tf.cast(tf.neg(tf.topk(tf.neg(tf.cast(top, 'float32')), k, true).values), 'int32') as tf.Tensor1D;
}

/**
 * Integer indices as a float32 state slot whose data really is float32. `tf.cast` from int32 to float32
 * on tfjs-backend-cpu 4.22 keeps the Int32Array under the float32 label (no encoding loss, so no copy),
 * and tf.io.encodeWeights — what `model.save({includeOptimizer: true})` and checkpoints write — copies
 * that buffer's bytes: the indices 1, 2 were read back as 1.4e-45, 2.8e-45 (the int32 bit patterns as
 * float32), and a resumed dctAdamw / subspaceMomentum run projected onto other columns. Adding 0 makes
 * a float32 buffer on every backend, with the same values (small non-negative integers). Not tidied.
 */
export function indicesAsFloat32(idx: tf.Tensor1D): tf.Tensor1D {
  return tf.add(tf.cast(idx, 'float32'), 0) as tf.Tensor1D;
}

/** `A·Q[:, idx]` (`'columns'`) or `Q[:, idx]ᵀ·A` (`'rows'`): the projection onto chosen columns. Not tidied. */
export function projectDct(a: tf.Tensor2D, q: tf.Tensor2D, indices: tf.Tensor1D, side: DctSide): tf.Tensor2D {
  const basis = tf.gather(q, indices, 1) as tf.Tensor2D;
  return side === 'columns' ? tf.matMul(a, basis) : tf.matMul(tf.transpose(basis), a);
}

/** `x·Q[:, idx]ᵀ` (`'columns'`) or `Q[:, idx]·x` (`'rows'`): back from the chosen columns. Not tidied. */
export function backprojectDct(x: tf.Tensor2D, q: tf.Tensor2D, indices: tf.Tensor1D, side: DctSide): tf.Tensor2D {
  const basis = tf.gather(q, indices, 1) as tf.Tensor2D;
  return side === 'columns' ? tf.matMul(x, tf.transpose(basis)) : tf.matMul(basis, x);
}

/**
 * The subspace rotation `R = Q[:, prev]ᵀ·Q[:, cur]` (r×r) that re-expresses a state written in the
 * previous columns in the current ones (`fft_projector.py` `get_subspace_rotation_matrix`). Q is
 * orthonormal, so R is the matching of the two index sets — 1 where `prev[a] = cur[b]`, 0 elsewhere — and
 * it is built as that matching, exactly: the float32 product would add ≈1e-7 noise on every entry, which
 * the rotated second moment then carries (`|v·R|` of an entry that should be 0). The basis is not needed.
 * A `'columns'` state `m` (R×r) becomes `m·R`, a `'rows'` state (r×C) `Rᵀ·m`. Not tidied.
 */
export function dctRotation(previous: tf.Tensor1D, current: tf.Tensor1D): tf.Tensor2D {
  return tf.cast(tf.equal(tf.expandDims(previous, 1), tf.expandDims(current, 0)), 'float32') as tf.Tensor2D;
}
