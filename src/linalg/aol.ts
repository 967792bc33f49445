/**
 * AOL preconditioning for Newton–Schulz (Turbo-Muon).
 *
 * Boissin, Massena, Mamalet, Serrurier, "Turbo-Muon: Accelerating Orthogonality-Based Optimization with
 * Pre-Conditioning" (arXiv 2512.04632), reference thib-s/flash-newton-schulz@10b6c36
 * `turbo_muon_torch.py#newton_schulz` (`precondition=True`), after Prach & Lampert's "Almost-Orthogonal
 * Layers" rescaling (arXiv 2208.03160). With `X` wide (k×n, k ≤ n) and `A = XXᵀ` (k×k):
 *
 * ```
 * s_i = 1 / √max(Σ_j |A_ij|, ε)
 * X ← diag(s)·X           A ← diag(s)·A·diag(s)     (no new matmul: A is the first NS step's Gram)
 * ```
 *
 * Then `‖diag(s)X‖₂ ≤ 1` (the AOL bound, Prach & Lampert's Theorem 1, a Schur-test argument), so no
 * Frobenius normalization is needed, and the rescaled matrix is closer to orthogonal than
 * the Frobenius-normalized one, which lets Turbo-Muon drop one Newton–Schulz step (spec §3.1). The output
 * of Newton–Schulz then approximates `polar(diag(s)·X)`, not `polar(X)` — the authors' intended bias.
 *
 * This library iterates on the *tall* orientation `Xᵀ` (n×k, see `newtonSchulzTall`), where the row
 * scaling of the wide `X` is a column scaling: `Xᵀ ← Xᵀ·diag(s)`. The Gram matrix is the same k×k `A`.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { FLOAT32_MAX, rescaleByPowerOfTwo } from './scale.js';

/**
 * AOL on the tall orientation: given `xt = Xᵀ` (n×k) and its Gram matrix `A = XXᵀ = xtᵀ·xt` (k×k),
 * returns `xt·diag(s)` and `diag(s)·A·diag(s)` with `s_i = 1/√max(Σ_j |A_ij|, eps)`. No matmul; not
 * tidied (call inside `tf.tidy`).
 *
 * @param eps - Floor of the row sums (the reference's `epsilon`: 1e-7 by default in `newton_schulz`,
 *   1e-6 as Turbo-Muon's optimizer passes it). An all-zero input stays zero.
 */
export function aolPreconditionTall(
  xt: tf.Tensor2D,
  gram: tf.Tensor2D,
  eps: number | tf.Scalar,
): { x: tf.Tensor2D; gram: tf.Tensor2D; scale: tf.Tensor1D } {
  const k = gram.shape[0];
  const s = tf.rsqrt(tf.maximum(tf.sum(tf.abs(gram), 1), eps)) as tf.Tensor1D;
  const row = tf.reshape(s, [1, k]);
  const col = tf.reshape(s, [k, 1]);
  return {
    x: tf.mul(xt, row) as tf.Tensor2D,
    gram: tf.mul(tf.mul(gram, col), row) as tf.Tensor2D,
    scale: s,
  };
}

/**
 * The AOL-rescaled matrix itself (what Turbo-Muon's Newton–Schulz starts from), same shape and
 * orientation as `m`: the short side is scaled — the rows of a wide matrix, the columns of a tall one.
 * A square matrix is read in TensorFlow.js layout `[fanIn, fanOut]` and its columns (output units) are
 * scaled, which is what the reference does to the rows of PyTorch's `[out, in]` matrix (AOL, unlike the
 * Frobenius normalization, is not transpose-equivariant for square matrices). Its spectral norm is ≤ 1.
 *
 * @param m - A 2-D matrix.
 * @param eps - Floor of the row sums of `|XXᵀ|` (default 1e-7, the reference function's default).
 * @example
 * const x = aolPrecondition(g); // singular values ≤ 1
 */
export function aolPrecondition(m: tf.Tensor2D, eps = 1e-7): tf.Tensor2D {
  if (m.rank !== 2) throw new RangeError(`aolPrecondition: expected a 2-D tensor, got shape [${m.shape.join(', ')}]`);
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new RangeError(`aolPrecondition: eps must be in [0, inf), got ${eps}`);
  return tf.tidy(() => {
    const x = m.dtype === 'float32' ? m : (tf.cast(m, 'float32') as tf.Tensor2D);
    const [rows, cols] = x.shape;
    const tall = rows >= cols ? x : (tf.transpose(x) as tf.Tensor2D);
    // power-of-two rescale for extreme inputs (./scale.ts): x·s_i is unchanged, the Gram stays finite
    const { x: scaled, scale } = rescaleByPowerOfTwo(tall) as { x: tf.Tensor2D; scale: tf.Scalar };
    const gram = tf.matMul(tf.transpose(scaled), scaled) as tf.Tensor2D;
    const floor = tf.minimum(tf.div(tf.div(eps, scale), scale), FLOAT32_MAX) as tf.Scalar;
    const out = aolPreconditionTall(scaled, gram, floor).x;
    return rows >= cols ? out : (tf.transpose(out) as tf.Tensor2D);
  });
}
