/**
 * A seeded randomized range finder: an orthonormal basis of the dominant rank-r column space of a matrix,
 * in place of the truncated SVD that TensorFlow.js lacks (spec `seed-methods.md` B4, "TF.js notes").
 *
 * Halko, Martinsson & Tropp, "Finding structure with randomness: probabilistic algorithms for
 * constructing approximate matrix decompositions" (SIAM Review 53(2), 2011; arXiv 0909.4061):
 * Algorithm 4.1 (the basic range finder `Y = A·Ω`, `Q = orth(Y)` with `k = r + p` Gaussian probes),
 * Algorithm 4.4 (randomized subspace iteration: `q` power iterations, re-orthonormalizing after every
 * product so that float32 rounding does not collapse the basis onto the top singular vector) and
 * §5.1 (the truncation to rank r through the small SVD of `B = QᵀA`). It replaces `torch.linalg.svd`
 * in GaLore's projector (jiaweizzhao/GaLore `galore_torch/galore_projector.py`
 * `GaLoreProjector.get_orthogonal_matrix`: `U[:, :rank]`) and Online Subspace Descent's initial one
 * (kyleliang919/Online-Subspace-Descent `galore_torch/galore_projector.py`).
 *
 * The big products (`A·Ω`, `Aᵀ·Q`, `A·Z`, `QᵀA`) run on the backend in float32; the QR is
 * {@link orthonormalizeColumns} (CholeskyQR2 with a Householder fallback, linalg/qr.ts); the k×k
 * eigenproblem of `B·Bᵀ` (k = r + p) is solved on the host in float64 by one-sided Jacobi
 * (`svd64`, linalg/reference.ts) — one k×k read-back per call. The probes Ω come from
 * {@link mulberry32} of the given seed (core/random.ts), never from a backend's RNG, so a basis is the
 * same on every backend for the same seed.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { gaussianArray, mulberry32 } from '../core/random.js';
import { orthonormalizeColumns, type QrMethod } from './qr.js';
import { matrix64, svd64 } from './reference.js';

/** Options of {@link rangeFinder}. */
export interface RangeFinderOptions {
  /** Power (subspace) iterations q ≥ 0 (Halko et al. Algorithm 4.4); each costs two products and two QRs. */
  readonly powerIters: number;
  /** Oversampling p ≥ 0: `k = min(r + p, m, n)` probes are drawn and the basis truncated to r. */
  readonly oversample: number;
  /** Seed of the Gaussian probes Ω (an unsigned 32-bit integer; `mulberry32(seed)`). */
  readonly seed: number;
  /** Column orthonormalization (default `'cholesky'`, see linalg/qr.ts). */
  readonly qrMethod?: QrMethod;
}

/** The defaults GaLore and OSD use here: q = 2 power iterations, p = 5 extra probes. */
export const RANGE_FINDER_DEFAULTS = { powerIters: 2, oversample: 5 } as const;

/** `aᵀ·b` with an explicit transpose (wasm: transpose flags leave XNNPACK). */
function matMulTA(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(tf.transpose(a), b);
}

/**
 * An m×r matrix with orthonormal columns spanning (approximately) the top-r left singular subspace of
 * `a` (m×n), ordered by decreasing singular value like `U[:, :r]` of an SVD (column signs arbitrary):
 * ```
 * Ω ~ N(0, 1)^{n×k}, k = min(r + p, m, n)
 * Q ← orth(A·Ω);  repeat q: Z ← orth(Aᵀ·Q), Q ← orth(A·Z)
 * B = QᵀA;  B·Bᵀ = Ũ·Λ·Ũᵀ (float64, host);  return Q·Ũ[:, :r]
 * ```
 * Exact (to float32 rounding) when `rank(A) ≤ r`; otherwise its error `‖A − UUᵀA‖_F` approaches the
 * optimal `(Σ_{j>r} σ_j²)^{1/2}` as q grows (Halko et al. Thm 10.5, Cor 10.10). A zero matrix gives unit
 * columns (the QR's convention), never NaN. For the right singular subspace pass `Aᵀ`. Call inside
 * `tf.tidy`.
 *
 * @throws RangeError when `a` is not a matrix, `rank` is not an integer in [1, min(m, n)], or an option
 * is out of range.
 * @example
 * const u = rangeFinder(g, 8, { powerIters: 2, oversample: 5, seed: 1 }); // [m, 8]
 */
export function rangeFinder(a: tf.Tensor2D, rank: number, options: RangeFinderOptions): tf.Tensor2D {
  if (a.rank !== 2) throw new RangeError(`rangeFinder: need a matrix, got shape [${a.shape.join(', ')}]`);
  const [m, n] = a.shape;
  const limit = Math.min(m, n);
  if (!Number.isInteger(rank) || rank < 1 || rank > limit) {
    throw new RangeError(`rangeFinder: rank must be an integer in [1, ${limit}] (min of the shape [${m}, ${n}]), got ${rank}`);
  }
  const { powerIters, oversample, seed } = options;
  if (!Number.isInteger(powerIters) || powerIters < 0) {
    throw new RangeError(`rangeFinder: powerIters must be an integer in [0, inf), got ${powerIters}`);
  }
  if (!Number.isInteger(oversample) || oversample < 0) {
    throw new RangeError(`rangeFinder: oversample must be an integer in [0, inf), got ${oversample}`);
  }
  const method = options.qrMethod ?? 'cholesky';
  const k = Math.min(rank + oversample, limit);
  return tf.tidy(() => {
    const omega = tf.tensor2d(gaussianArray(n * k, 1, mulberry32(seed >>> 0)), [n, k]);
    const at = tf.transpose(a);
    let q = orthonormalizeColumns(tf.matMul(a, omega), method);
    for (let i = 0; i < powerIters; i++) {
      const z = orthonormalizeColumns(tf.matMul(at, q), method);
      q = orthonormalizeColumns(tf.matMul(a, z), method);
    }
    const b = matMulTA(q, a);
    const gram = tf.matMul(b, tf.transpose(b));
    // The k×k eigenvectors of B·Bᵀ = QᵀAAᵀQ (its left singular vectors, sorted descending) in float64.
    const { u } = svd64(matrix64(k, k, gram.dataSync()));
    const top = new Float32Array(k * rank);
    for (let i = 0; i < k; i++) for (let j = 0; j < rank; j++) top[i * rank + j] = u.data[i * k + j];
    return tf.matMul(q, tf.tensor2d(top, [k, rank]));
  });
}
